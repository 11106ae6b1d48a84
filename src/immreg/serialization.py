"""Turning untrusted data into domain values and back, at the edges only.

:data:`converter` is a :mod:`cattrs` converter that knows immreg's types: ISO dates and
timezone-aware instants, enums by value, tuples as JSON lists. :func:`structure` wraps it
so that every problem, however deep, comes out as one
:class:`~immreg.errors.ValidationError` listing each offending field by its path::

    >>> structure({"name": "", "relationship": "mother"}, Caregiver)
    Traceback (most recent call last):
    ...
    immreg.errors.ValidationError: name: must not be empty
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from immreg.errors import FieldError, ValidationError
from immreg.model import Caregiver  # noqa: F401  (named in the module docstring's example)

__all__ = ["converter", "dumps", "loads", "parse_date", "structure", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)


def parse_date(value: object, *, field: str = "date") -> dt.date:
    """Parse an ISO ``YYYY-MM-DD`` date, naming ``field`` in the error.

    Raises:
        ValidationError: Not a real calendar date in that form.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValidationError(field, f"{value!r} is not a date in the form YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise ValidationError(field, f"{value!r} is not a real date (YYYY-MM-DD)") from e


def _structure_date(value: object, _: type) -> dt.date:
    return parse_date(value, field="")


def _structure_datetime(value: object, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as e:
            raise ValidationError("", f"{value!r} is not an ISO date and time") from e
    else:
        raise ValidationError("", f"{value!r} is not an ISO date and time")
    if parsed.tzinfo is None:
        raise ValidationError("", "must include a time zone offset")
    return parsed


def _strict_str(value: object, _: type) -> str:
    # cattrs would turn 12 into "12"; input meant as text must be text.
    if not isinstance(value, str):
        raise ValidationError("", "must be text")
    return value


def _strict_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("", "must be true or false")
    return value


def _strict_int(value: object, _: type) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("", "must be a whole number")
    return value


converter.register_structure_hook(dt.date, _structure_date)
converter.register_structure_hook(dt.datetime, _structure_datetime)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_unstructure_hook(dt.date, lambda d: d.isoformat())
converter.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())


def _join(path: str, part: str) -> str:
    if not part:
        return path
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"


def _flatten(exc: BaseException, path: str) -> list[FieldError]:
    """Walk cattrs' exception groups and collect field errors with their paths."""
    if isinstance(exc, ValidationError):
        return [FieldError(_join(path, e.field), e.message) for e in exc.errors]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [
            FieldError(_join(path, k), "is not a known field") for k in sorted(exc.extra_fields)
        ]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        out: list[FieldError] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            name = note.name if isinstance(note, AttributeValidationNote) else f"[{note.index}]"
            out.extend(_flatten(sub, _join(path, str(name))))
        for sub in without:
            out.extend(_flatten(sub, path))
        return out
    if isinstance(exc, KeyError):
        return [FieldError(path, "is required")]
    if isinstance(exc, TypeError | AttributeError) and "missing" in str(exc):
        return [FieldError(path, "is required")]
    if isinstance(exc, ValueError | TypeError | AttributeError):
        return [FieldError(path or "$", f"is not valid: {exc}")]
    raise exc


def structure(data: Any, cls: type[T], *, field: str = "") -> T:
    """Build a domain value of type ``cls`` from JSON-like data, or say what is wrong.

    Args:
        data: Parsed JSON (dicts, lists, strings, numbers).
        cls: The domain class to build.
        field: Path prefix for error messages (e.g. ``"doses[3]"``).

    Raises:
        ValidationError: Listing every offending field by its path.
    """
    if not isinstance(data, dict) and hasattr(cls, "__attrs_attrs__"):
        raise ValidationError(field or "$", "must be an object")
    try:
        return converter.structure(data, cls)
    except Exception as e:
        errors = _flatten(e, field)
        raise ValidationError(errors=errors or [FieldError(field or "$", str(e))]) from e


def unstructure(value: Any) -> Any:
    """Turn a domain value into JSON-ready data (dates as ISO text, enums by value)."""
    return converter.unstructure(value)


def dumps(value: Any) -> str:
    """Serialize a domain value to compact JSON text, keys sorted (stable for audit)."""
    return json.dumps(
        unstructure(value), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


def loads(text: str, cls: type[T]) -> T:
    """Parse JSON text into a domain value of type ``cls``.

    Raises:
        ValidationError: The text is not JSON, or the data is not a valid ``cls``.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError("$", f"is not valid JSON: {e.msg} at line {e.lineno}") from e
    return structure(data, cls)
