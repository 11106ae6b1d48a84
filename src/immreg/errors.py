"""The exceptions immreg raises.

Every error immreg raises on purpose is an :class:`ImmregError`; driver and library
exceptions are translated at the adapter that met them (``raise ... from e``), so an
embedding application needs to catch one tree only::

    ImmregError
    ├── ValidationError (ValueError)    bad input; names every offending field
    ├── NotFoundError (LookupError)     an id or code that is not there
    ├── ConflictError                   same id, different content; a stale write
    ├── StockError                      a ledger event that would break the stock rules
    ├── ScopeError (PermissionError)    outside the org-unit subtree a unit of work may see
    └── BackendError                    the storage or messaging backend failed

A :class:`ValidationError` carries one or more :class:`FieldError` values, each with a
dotted field path (``"doses[2].date"``) and a message written so that a developer can
show it to a health worker unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = [
    "BackendError",
    "ConflictError",
    "FieldError",
    "ImmregError",
    "NotFoundError",
    "ScopeError",
    "StockError",
    "ValidationError",
]


class ImmregError(Exception):
    """The base of every exception immreg raises on purpose."""


@attrs.frozen
class FieldError:
    """One problem with one input field.

    Attributes:
        field: Dotted path of the field, e.g. ``"caregivers[0].phone"``.
        message: What is wrong, in words a health worker can read.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(ImmregError, ValueError):
    """Input that immreg will not accept; nothing was written.

    Args:
        field: The offending field's path (ignored when ``errors`` is given).
        message: What is wrong with it.
        errors: Several field problems at once.
    """

    def __init__(
        self,
        field: str = "",
        message: str = "",
        *,
        errors: Iterable[FieldError] | None = None,
    ) -> None:
        collected = tuple(errors) if errors is not None else (FieldError(field, message),)
        if not collected:
            raise ValueError("ValidationError needs at least one field error")
        self.errors: tuple[FieldError, ...] = collected
        super().__init__("; ".join(str(e) for e in collected))

    @property
    def field(self) -> str:
        """The path of the first offending field."""
        return self.errors[0].field

    @property
    def message(self) -> str:
        """The message of the first offending field."""
        return self.errors[0].message

    def prefixed(self, prefix: str) -> ValidationError:
        """Return the same errors with ``prefix`` put before every field path."""
        return ValidationError(
            errors=[
                FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message)
                for e in self.errors
            ]
        )


class NotFoundError(ImmregError, LookupError):
    """A referenced record (subject, dose, org unit, product, lot...) does not exist.

    Args:
        kind: What was looked for, e.g. ``"subject"``.
        key: The id or code that was not found.
        field: The input field that held the reference, when there was one.
    """

    def __init__(self, kind: str, key: object, *, field: str | None = None) -> None:
        self.kind = kind
        self.key = key
        self.field = field
        where = f"{field}: " if field else ""
        super().__init__(f"{where}{kind} {key!r} not found")


class ConflictError(ImmregError):
    """The write contradicts what is stored (same id with different content, stale state)."""


class StockError(ImmregError):
    """A stock ledger event that would break the ledger's rules (negative balance...)."""


class ScopeError(ImmregError, PermissionError):
    """A read or write outside the org-unit subtree the unit of work was opened for."""


class BackendError(ImmregError):
    """The storage or messaging backend failed for a reason that is not the caller's input."""
