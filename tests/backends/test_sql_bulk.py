"""Bulk loading: atomic batches, exactly-once reruns, and a load killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import pytest
from _data import batch, subject, tree
from hypothesis import given
from hypothesis import strategies as st

from immreg.backends import open_backend
from immreg.backends.sqlalchemy.bulk import dose_rows
from immreg.backends.sqlalchemy.mapping import dose_tuple
from immreg.errors import ConflictError, NotFoundError
from immreg.model import AdministeredDose, Caregiver
from immreg.ports import Backend, BulkBatch
from immreg.testing import strategies

LOADER = Path(__file__).resolve().parent / "bulk_loader.py"


def _with_tree(backend: Backend) -> Backend:
    with backend.unit_of_work() as uow:
        for unit in tree():
            uow.org_units.add(unit)
        uow.commit()
    return backend


def test_a_batch_is_stored_once(backend: Backend) -> None:
    _with_tree(backend)
    b0 = batch("L", 0, subjects=5, doses_each=3)
    assert backend.loaded_batches("L") == set()
    assert backend.load_batch(b0) is True
    assert backend.load_batch(b0) is False
    assert backend.load_batch(batch("L", 1, subjects=2, doses_each=2)) is True
    assert backend.loaded_batches("L") == {0, 1}
    assert backend.loaded_batches("other") == set()
    with backend.unit_of_work() as uow:
        assert uow.subjects.count() == 7
        assert uow.doses.count() == 19
        s = b0.subjects[3]
        assert uow.subjects.get(s.id) == s
        assert uow.doses.list_for_subject(s.id) == sorted(
            [d for d in b0.doses if d.subject_id == s.id], key=lambda d: (d.date, d.id)
        )


def test_a_failing_batch_leaves_nothing(backend: Backend) -> None:
    _with_tree(backend)
    with backend.unit_of_work() as uow:
        uow.subjects.add(subject("taken", "C1"))
        uow.commit()
    good = batch("L", 0, subjects=3, doses_each=2)
    clash = BulkBatch("L", 0, [*good.subjects, subject("taken", "C1")], good.doses)
    with pytest.raises(ConflictError):
        backend.load_batch(clash)
    stray = batch("X", 9, subjects=1, doses_each=1).doses[0]
    orphan = BulkBatch("L", 0, good.subjects, [*good.doses, stray])
    with pytest.raises(NotFoundError):
        backend.load_batch(orphan)
    assert backend.loaded_batches("L") == set()
    with backend.unit_of_work() as uow:
        assert uow.subjects.count() == 1
        assert uow.doses.count() == 0
    assert backend.load_batch(good) is True


def test_doses_may_reference_stored_subjects(backend: Backend) -> None:
    _with_tree(backend)
    first = batch("L", 0, subjects=2, doses_each=0)
    assert backend.load_batch(first) is True
    assert backend.load_batch(BulkBatch("L", 1, [], [])) is True
    later = batch("L", 2, subjects=2, doses_each=1)
    moved = [attrs.evolve(d, subject_id=first.subjects[0].id) for d in later.doses]
    assert backend.load_batch(BulkBatch("L", 2, [], moved)) is True
    with backend.unit_of_work() as uow:
        assert len(uow.doses.list_for_subject(first.subjects[0].id)) == 2
        assert uow.subjects.count() == 2


def _kill_and_rerun(url: str, *, batches: int, subjects: int, doses_each: int) -> None:
    backend = _with_tree(open_backend(url))
    args = [sys.executable, str(LOADER), url, "LOAD", str(batches), str(subjects),
            str(doses_each)]  # fmt: skip
    proc = subprocess.Popen([*args, "0.01"], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        while len(backend.loaded_batches("LOAD")) < batches // 5:
            assert proc.poll() is None, "the loader ended before it could be killed"
            assert time.monotonic() < deadline, "the loader made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = backend.loaded_batches("LOAD")
    assert batches // 5 <= len(done_at_kill) < batches, "the kill did not land midway"
    with backend.unit_of_work() as uow:
        # What is there is exactly the batches marked done: nothing of the one in flight.
        assert uow.subjects.count() == len(done_at_kill) * subjects
        assert uow.doses.count() == len(done_at_kill) * subjects * doses_each
    subprocess.run(args, check=True, timeout=300)
    assert backend.loaded_batches("LOAD") == set(range(batches))
    with backend.unit_of_work() as uow:
        assert uow.subjects.count() == batches * subjects
        assert uow.doses.count() == batches * subjects * doses_each
        for n in (0, batches // 2, batches - 1):
            expected = batch("LOAD", n, subjects=subjects, doses_each=doses_each)
            s = expected.subjects[-1]
            assert uow.subjects.get(s.id) == s
            assert len(uow.doses.list_for_subject(s.id)) == doses_each
    backend.close()


@pytest.mark.slow
def test_killed_load_reruns_to_exactly_one_copy_sqlite(tmp_path: Path) -> None:
    _kill_and_rerun(f"sqlite:///{tmp_path / 'bulk.db'}", batches=200, subjects=20, doses_each=10)


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_load_reruns_to_exactly_one_copy_postgres(postgres_url: str) -> None:
    _kill_and_rerun(postgres_url, batches=200, subjects=20, doses_each=10)


@pytest.mark.parametrize("kind", ["sqlite_file", "postgres"])
def test_two_loaders_of_the_same_batch_store_it_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'twice.db'}"
    backend = _with_tree(open_backend(url))
    other = open_backend(url, create_schema=False)
    b0 = batch("L", 0, subjects=50, doses_each=10)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def load(target: Backend) -> None:
        barrier.wait()
        results.append(target.load_batch(b0))

    threads = [threading.Thread(target=load, args=(t,)) for t in (backend, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    with backend.unit_of_work() as uow:
        assert uow.subjects.count() == 50
        assert uow.doses.count() == 500
    other.close()
    backend.close()


def test_bulk_text_survives_copy_escaping(backend: Backend) -> None:
    _with_tree(backend)
    tricky = subject(
        "tricky",
        "C1",
        family_name="Nguyễn \\N",
        caregivers=[
            Caregiver('Bà "Tư" \\ Lê', relationship="bà ngoại", phone="+84912345678"),
            Caregiver("Ông Ba", relationship="ông", sms_opt_out=True),
        ],
    )
    assert backend.load_batch(BulkBatch("T", 0, [tricky], [])) is True
    with backend.unit_of_work() as uow:
        assert uow.subjects.get("tricky") == tricky


@given(st.lists(strategies.administered_doses(), max_size=5))
def test_copy_dose_rows_are_the_mapping_rows(doses: list[AdministeredDose]) -> None:
    # The COPY path builds its rows inline; they must be the rows every other path writes.
    assert list(dose_rows(doses)) == [dose_tuple(d) for d in doses]
