"""immreg: the library an electronic immunization registry is built on.

The stable facade: everything a typical embedding application needs is importable from
here. Importing :mod:`immreg` imports no storage or messaging library; backends load when
:func:`open_backend` opens one.
"""

from __future__ import annotations

from immreg.backends import open_backend
from immreg.errors import (
    BackendError,
    ConflictError,
    FieldError,
    ImmregError,
    NotFoundError,
    ScopeError,
    StockError,
    ValidationError,
)
from immreg.model import (
    AdministeredDose,
    AuditEntry,
    Caregiver,
    DoseSource,
    Lot,
    OpenVialRule,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
    normalize_phone,
)

__version__ = "0.1.0"

__all__ = [
    "AdministeredDose",
    "AuditEntry",
    "BackendError",
    "Caregiver",
    "ConflictError",
    "DoseSource",
    "FieldError",
    "ImmregError",
    "Lot",
    "NotFoundError",
    "OpenVialRule",
    "OrgLevel",
    "OrgUnit",
    "ParentLink",
    "Residence",
    "ScopeError",
    "Sex",
    "StockError",
    "Subject",
    "VaccineProduct",
    "ValidationError",
    "__version__",
    "normalize_phone",
    "open_backend",
]
