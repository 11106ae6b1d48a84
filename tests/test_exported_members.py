"""``__all__`` tells the truth: sorted, complete, and every name in it exists (as httpx does)."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import immreg

# Modules whose ``__all__`` is their public surface.
MODULES = [
    "immreg.errors",
    "immreg.model",
    "immreg.ports",
    "immreg.serialization",
    "immreg.services",
    "immreg.backends",
    "immreg.testing.strategies",
    "immreg.testing.conformance",
    "immreg.testing.machines",
    "immreg.duelist",
    "immreg.messaging",
    "immreg.outreach",
    "immreg.backends.gateways",
    "immreg.testing.messaging_conformance",
    "immreg.testing.messaging_strategies",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions and the rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_imports_are_exported() -> None:
    included_private_members = ["__version__"]
    public = [
        member
        for member, value in vars(immreg).items()
        if (not member.startswith("_") or member in included_private_members)
        and not isinstance(value, types.ModuleType)
        and member != "annotations"  # from __future__ import annotations
    ]
    assert immreg.__all__ == sorted(public)


def test_facade_names_have_docstrings() -> None:
    for name in immreg.__all__:
        value = getattr(immreg, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_sorted_complete_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    for member in exported:
        assert hasattr(module, member), f"{name}.{member} is in __all__ but does not exist"
    defined_here = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined_here <= set(exported), f"{name} defines public names missing from __all__"
    for member in exported:
        value = getattr(module, member)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{member} has no docstring"
