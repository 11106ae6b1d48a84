"""Load a synthetic bulk load into a backend, skipping the batches already stored.

Usage: python bulk_loader.py URL LOAD_ID BATCHES SUBJECTS DOSES_EACH [PAUSE_SECONDS]

Run by tests/backends/test_bulk.py, which kills it midway and runs it again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import batch

from immreg.backends import open_backend


def main(argv: list[str]) -> None:
    """Load every batch that is not stored yet."""
    url, load_id, batches, subjects, doses_each = argv[:5]
    pause = float(argv[5]) if len(argv) > 5 else 0.0
    backend = open_backend(url, create_schema=False)
    done = backend.loaded_batches(load_id)
    for n in range(int(batches)):
        if n in done:
            continue
        backend.load_batch(batch(load_id, n, subjects=int(subjects), doses_each=int(doses_each)))
        time.sleep(pause)
    backend.close()


if __name__ == "__main__":
    main(sys.argv[1:])
