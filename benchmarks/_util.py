"""Helpers shared by the benchmark modules: percentiles, records, server URLs."""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1/test"


def postgres_url() -> str:
    """The PostgreSQL server benchmarks run against."""
    return os.environ.get("IMMREG_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The median."""
    return float(statistics.median(values))


def record(
    name: str, metric: str, value: float, unit: str, *, target: Any = None, n: int, **extra: Any
) -> dict[str, Any]:
    """One JSON-lines record in the format benchmarks/run.py prints."""
    return {
        "name": name,
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
        "target": target,
        "n": n,
        **extra,
    }


def scratch_schema(base: str, prefix: str) -> tuple[str, str]:
    """Create a fresh schema on the PostgreSQL server at ``base``.

    Returns:
        A URL whose search_path is the new schema, and the schema's name (for
        :func:`drop_schema`).
    """
    import sqlalchemy as sa

    from immreg.backends.sqlalchemy import create_engine

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base)  # "postgresql://" means psycopg here too
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", schema


def drop_schema(base: str, schema: str) -> None:
    """Drop a schema made by :func:`scratch_schema`, with everything in it."""
    import sqlalchemy as sa

    from immreg.backends.sqlalchemy import create_engine

    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    engine.dispose()
