"""Test helpers that immreg ships for its own tests and for yours.

Nothing here is imported by :mod:`immreg` itself, and each module needs the test-only
libraries it is built on (hypothesis, pytest), which immreg's runtime does not depend on:

* :mod:`immreg.testing.strategies`: hypothesis strategies for every domain value, and for
  whole consistent registries (org tree, catalogue, people and their doses).
* :mod:`immreg.testing.conformance`: pytest contract classes (``*Contract``) that a backend
  subclasses to prove it keeps every promise of :mod:`immreg.ports`.
* :mod:`immreg.testing.machines`: a hypothesis state machine that drives two backends and a
  plain-Python model with the same random operations and checks that they agree.
"""

from __future__ import annotations

__all__: list[str] = []
