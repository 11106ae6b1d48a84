"""Run immreg's benchmarks and print one JSON object per line.

Usage::

    python benchmarks/run.py [NAME ...] [--quick]

Each ``benchmarks/bench_NAME.py`` module defines ``run(quick: bool)``, an iterator of
records ``{"name", "metric", "value", "unit", "target", "n"}`` (plus optional extra keys).
Medians are what the records report; targets live in the records and in
``docs/performance.md``, never in timed unit tests. PostgreSQL benchmarks read their server
from ``IMMREG_BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1/test``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the benchmark modules beside this file."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default) and print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(available())}")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    sys.path.insert(0, str(HERE))
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench_{name}")
        started = time.perf_counter()
        try:
            for record in module.run(quick=args.quick):
                print(json.dumps(record, ensure_ascii=False), flush=True)
        except Exception as e:  # report and go on with the other benchmarks
            failed += 1
            print(json.dumps({"name": name, "error": f"{type(e).__name__}: {e}"}), flush=True)
        print(
            json.dumps(
                {
                    "name": name,
                    "metric": "wall_time",
                    "value": round(time.perf_counter() - started, 3),
                    "unit": "s",
                    "target": None,
                    "n": 1,
                }
            ),
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
