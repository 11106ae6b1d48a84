"""The stock modules' ``__all__`` tells the truth, and no domain module reads the clock."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

MODULES = [
    "immreg.stock",
    "immreg.stock.model",
    "immreg.stock.gs1",
    "immreg.stock.ledger",
    "immreg.stock.policy",
    "immreg.stock.reports",
    "immreg.stock.recall",
    "immreg.stock.desk",
    "immreg.backends.memory_stock",
    "immreg.backends.sqlalchemy.stock",
    "immreg.backends.sqlalchemy.stock_tables",
    "immreg.testing.stock_conformance",
    "immreg.testing.stock_strategies",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_complete_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in exported]
    assert key == sorted(key)
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and v.__module__ == name
    }
    assert defined <= set(exported)
    for n in exported:
        value = getattr(module, n)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{n}"


def test_the_stock_domain_never_reads_the_clock() -> None:
    stock = Path(importlib.import_module("immreg.stock").__file__ or "").parent
    for path in stock.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(date\.today|datetime\.now|time\.time)\(", text), path.name
