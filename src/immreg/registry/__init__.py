"""The registry's identity work: codes, phones, names, duplicates, merges, moves.

Modules:

* :mod:`immreg.registry.codes`: the national immunization code and its Damm check digit,
  and QR stickers for it.
* :mod:`immreg.registry.phones`: Vietnam's 2018 renumbering of 11-digit mobile numbers.
* :mod:`immreg.registry.names`: Vietnamese-aware name folding for matching.
* :mod:`immreg.registry.dedup`: duplicate candidates with scores and explanations.
* :mod:`immreg.registry.synthetic`: a seeded population with injected duplicates.
* :mod:`immreg.registry.merge`: merging duplicate records and undoing a merge.
* :mod:`immreg.registry.residence`: moves between communes.

This package imports nothing at import time: :mod:`immreg.model` imports
:mod:`immreg.registry.phones`, so importing the package must not import the model.
"""
