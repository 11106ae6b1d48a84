"""The schedule engine: rule model, loaders, evaluation and forecasting.

Load a schedule with :func:`load_schedule` (``"cdsi:DIR"`` for the CDC CDSi XML, a path
ending in ``.json`` for immreg's own format, or the name of a bundled pack), then call
:func:`assess` (or :func:`evaluate` / :func:`forecast`) with a :class:`Patient` and an
explicit ``as_of`` date. :mod:`immreg.schedule.batch` runs many patients at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from immreg.errors import NotFoundError
from immreg.schedule.dates import Duration, add, parse_duration
from immreg.schedule.engine import assess, evaluate, forecast
from immreg.schedule.patient import (
    Assessment,
    Dose,
    DoseEvaluation,
    Observation,
    Patient,
    SeriesOutcome,
    VaccineGroupForecast,
)
from immreg.schedule.rules import Schedule

__all__ = [
    "Assessment",
    "Dose",
    "DoseEvaluation",
    "Duration",
    "Observation",
    "Patient",
    "Schedule",
    "SeriesOutcome",
    "VaccineGroupForecast",
    "add",
    "assess",
    "engine_build",
    "evaluate",
    "forecast",
    "load_schedule",
    "parse_duration",
]


def engine_build() -> str:
    """How the engine's fast path (:mod:`immreg.schedule.compiled`, :mod:`~immreg.schedule.lean`)
    was built.

    Returns:
        ``"mypyc"`` when both modules were compiled into C extensions at install time (the
        default; see "Installing" in the documentation), ``"pure"`` when they run as Python
        (an ``IMMREG_PURE_PYTHON=1`` build, or no extension for this interpreter), and
        ``"partial"`` when only one was. Results are the same either way; only the speed
        differs.
    """
    from immreg.schedule import compiled, lean

    native = [not path.endswith(".py") for path in (compiled.__file__, lean.__file__)]
    return "mypyc" if all(native) else "partial" if any(native) else "pure"


_PACKS = Path(__file__).resolve().parent / "packs"
_CACHE: dict[str, Schedule] = {}
_LOCK = threading.Lock()


def load_schedule(spec: str) -> Schedule:
    """Load a schedule by spec, caching it for the life of the process.

    Args:
        spec: ``"cdsi:DIR"`` to read CDSi supporting-data XML from ``DIR``; a path ending
            in ``.json`` to read an immreg schedule file; otherwise the name of a bundled
            pack (``src/immreg/schedule/packs/NAME.json``).

    Returns:
        The schedule. The same spec returns the same (immutable) object.

    Raises:
        NotFoundError: The directory, file or pack does not exist.
        ValidationError: The file is not a valid schedule; the field path says where.
    """
    with _LOCK:
        cached = _CACHE.get(spec)
    if cached is not None:
        return cached
    if spec.startswith("cdsi:"):
        from immreg.schedule.cdsi import load_cdsi

        directory = Path(spec[len("cdsi:") :])
        if not directory.is_dir():
            raise NotFoundError("CDSi supporting-data directory", str(directory))
        schedule = load_cdsi(directory)
    else:
        from immreg.schedule.fileformat import load

        if spec.endswith(".json"):
            path = Path(spec)
            if not path.is_file():
                raise NotFoundError("schedule file", spec)
        else:
            # A pack is a bare name: no path may reach outside the packs directory.
            path = _PACKS / f"{spec}.json"
            if "/" in spec or "\\" in spec or spec.startswith(".") or not path.is_file():
                raise NotFoundError("schedule pack", spec)
        from immreg.schedule import versioned

        text = path.read_text(encoding="utf-8")
        if versioned.is_version_file(text):
            # An effective-dated pack (``vn-epi``): its versions composed into one schedule.
            schedule = versioned.load_versioned(text, load_schedule)
        else:
            schedule = load(text)
    with _LOCK:
        return _CACHE.setdefault(spec, schedule)
