"""The fast path's build flavour: the mypyc extensions, when installed, run their own source.

``hatch_build.py`` compiles :mod:`immreg.schedule.compiled` and
:mod:`immreg.schedule.lean` with mypyc at install time (``IMMREG_PURE_PYTHON=1`` builds
pure Python). These tests pass on either build: they report which one is loaded, check
that an extension is not older than its source (an editable install compiles once, at
install time), and run the fast path's Python source beside the loaded build on random
histories, so that both flavours stay tested whichever one the suite runs against.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

from immreg.schedule import Dose, Patient, Schedule, engine_build, lean, load_schedule
from immreg.schedule import compiled as loaded
from immreg.schedule.engine import _compiled
from immreg.schedule.lean import _route

SOURCE = Path(loaded.__file__).with_name("compiled.py")
AS_OF = dt.date(2026, 11, 10)
VISITS = (0, 1, 42, 61, 91, 122, 152, 274, 365, 379, 548, 730, 1461, 1826, 4018)


def test_the_build_flavour_is_reported() -> None:
    flavour = engine_build()
    assert flavour in ("mypyc", "pure")
    for module in (loaded, lean):
        if flavour == "pure":
            assert module.__file__.endswith(".py")
            continue
        assert module.__file__.endswith(sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        built = Path(module.__file__)
        source = built.with_name(module.__name__.rpartition(".")[2] + ".py")
        if source.is_file():
            # An extension older than its source runs code that is no longer there: after
            # editing the module in an editable install, install again (pip install -e .).
            stale = source.stat().st_mtime - built.stat().st_mtime
            assert stale < 5, f"{built} is older than {source}: reinstall to rebuild"


def _pure_module() -> ModuleType:
    """The fast path's Python source, loaded as a module of its own."""
    spec = importlib.util.spec_from_file_location("immreg_schedule_compiled_pure", SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pure() -> ModuleType:
    if not SOURCE.is_file():
        pytest.skip(f"no Python source beside {loaded.__file__}")
    return _pure_module()


def _children(schedule: Schedule, n: int, seed: int) -> list[tuple[Patient, dt.date]]:
    rng = random.Random(seed)
    codes = sorted(schedule.index().vaccines)
    out = []
    for _ in range(n):
        age = rng.randrange(0, 7 * 365)
        dob = AS_OF - dt.timedelta(days=age)
        doses = []
        for i in range(rng.randrange(0, 16)):
            days = min(age, max(0, rng.choice(VISITS) + rng.randrange(-10, 40)))
            doses.append(Dose(f"d{i}", dob + dt.timedelta(days=days), rng.choice(codes)))
        out.append((Patient(dob, rng.choice("FMU"), tuple(doses)), AS_OF))
    return out


@pytest.mark.parametrize("spec", ["vn-epi-2026", "vn-epi"])
def test_the_python_source_agrees_with_the_loaded_build(pure: ModuleType, spec: str) -> None:
    schedule = load_schedule(spec)
    native = _compiled(schedule)
    if not native.order:
        pytest.skip(f"{spec}: not every antigen has a plan")
    plans = pure.compile_schedule(schedule)
    assert [name for name, _ in plans.order] == [name for name, _ in native.order]
    for patient, as_of in _children(schedule, 300, seed=len(spec)):
        recs = _route(schedule, native, patient, as_of)
        by_vaccine: dict[str, list[Dose]] = {}
        for d in patient.doses:
            by_vaccine.setdefault(d.vaccine, []).append(d)
        dob, sex, doses = patient.birth_date, patient.sex, patient.doses
        for i, ((_, mine), (_, theirs)) in enumerate(zip(native.order, plans.order, strict=True)):
            args = (recs[i], as_of, dob, sex, doses, by_vaccine)
            got = loaded.run(mine, native.ages(dob), *args)
            want = pure.run(theirs, plans.ages(dob), *args)
            assert got == want
