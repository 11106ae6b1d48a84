"""The unit of work and the repositories of the SQLAlchemy backend.

A :class:`SqlAlchemyUnitOfWork` holds one connection and one transaction; its repositories
run Core statements on it. Semantics follow :mod:`immreg.ports` and, where the ports leave
a choice, the reference in-memory backend (:mod:`immreg.backends.memory`), checked by the
same conformance suite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn, Self

import sqlalchemy as sa

from immreg.backends.sqlalchemy import mapping, queries
from immreg.backends.sqlalchemy.maternal import SqlAlchemyMaternalRepository
from immreg.backends.sqlalchemy.messaging import (
    SqlAlchemyDueSummaryRepository,
    SqlAlchemyOutboxRepository,
)
from immreg.backends.sqlalchemy.registry import (
    SqlAlchemyAefiRepository,
    SqlAlchemyDoseVerificationRepository,
    SqlAlchemyMergeRepository,
    SqlAlchemyPregnancyRepository,
)
from immreg.backends.sqlalchemy.reports import SqlAlchemyReportRepository
from immreg.backends.sqlalchemy.stock import SqlAlchemyStockLedger
from immreg.backends.sqlalchemy.tables import doses as doses_table
from immreg.backends.sqlalchemy.tables import (
    lots,
    org_units,
    products,
    subjects,
)
from immreg.errors import BackendError, ConflictError, ImmregError, NotFoundError, ScopeError
from immreg.model import AdministeredDose, AuditEntry, Lot, OrgUnit, Subject, VaccineProduct
from immreg.ports import (
    AefiRepository,
    AuditRepository,
    CatalogueRepository,
    DoseRepository,
    DoseVerificationRepository,
    DueSummaryRepository,
    LotRepository,
    MaternalRepository,
    MergeRepository,
    OrgUnitRepository,
    OutboxRepository,
    PregnancyRepository,
    StockLedgerRepository,
    SubjectRepository,
)

__all__ = [
    "ISOLATION_LEVEL",
    "SqlAlchemyAuditRepository",
    "SqlAlchemyCatalogueRepository",
    "SqlAlchemyDoseRepository",
    "SqlAlchemyLotRepository",
    "SqlAlchemyOrgUnitRepository",
    "SqlAlchemySubjectRepository",
    "SqlAlchemyUnitOfWork",
    "translate_error",
]

#: Isolation level of units of work on PostgreSQL: a write over a row that a concurrent
#: transaction changed after this one's snapshot fails (ConflictError) instead of silently
#: overwriting it, as the in-memory backend's optimistic commit does.
ISOLATION_LEVEL = "REPEATABLE READ"

# SQLSTATEs that mean "a concurrent transaction won": serialization failure, deadlock.
_CONCURRENCY_SQLSTATES = frozenset({"40001", "40P01"})
# SQLite in WAL mode: this transaction read a snapshot that another one has since written
# over, so it may not write: the same "a concurrent change won".
_SQLITE_BUSY_SNAPSHOT = 517


def translate_error(e: BaseException) -> ImmregError:
    """The immreg error for a driver or SQLAlchemy exception.

    Unique and foreign-key violations and lost races (serialization failures, deadlocks,
    SQLite's stale WAL snapshots) become :class:`~immreg.errors.ConflictError`; everything else
    :class:`~immreg.errors.BackendError`. The caller raises the result ``from e``.
    """
    orig = getattr(e, "orig", None) or e
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _CONCURRENCY_SQLSTATES or (
        getattr(orig, "sqlite_errorcode", None) == _SQLITE_BUSY_SNAPSHOT
    ):
        return ConflictError(f"a concurrent change won; nothing was kept ({orig})")
    if isinstance(e, sa.exc.IntegrityError) or (
        isinstance(sqlstate, str) and sqlstate.startswith("23")
    ):
        return ConflictError(f"the write contradicts stored data: {orig}")
    return BackendError(f"{type(orig).__name__}: {orig}")


def _raise_translated(e: BaseException) -> NoReturn:
    raise translate_error(e) from e


_DRIVER_SQL: weakref.WeakKeyDictionary[sa.Select[Any], str] = weakref.WeakKeyDictionary()


def _driver_sql(statement: sa.Select[Any], dialect: sa.Dialect) -> str:
    # A statement's SQL in the driver's parameter style, compiled once (statements built
    # once per process, as the repositories' are, are compiled once).
    sql = _DRIVER_SQL.get(statement)
    if sql is None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positional or "POSTCOMPILE" in compiled.string:
            raise TypeError("fetch_tuples takes named, non-expanding parameters only")
        sql = _DRIVER_SQL[statement] = compiled.string
    return sql


class SqlAlchemySubjectRepository:
    """Subjects in SQL (see :class:`immreg.ports.SubjectRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _load(self, subject_id: str) -> Subject | None:
        rows = self._uow.run(queries.select_subject_and_residences, {"id": subject_id}).all()
        return mapping.subject_from_joined_rows(rows) if rows else None

    def _insert_residences(self, subject: Subject) -> None:
        if subject.residences:
            self._uow.run(queries.insert_residences, mapping.residence_rows(subject))

    def add(self, subject: Subject) -> None:
        """Store a new subject.

        Raises:
            ScopeError: The subject would not be resident in the unit of work's scope.
            ConflictError: The id or the national code is taken.
        """
        self._uow.check_subject(subject)
        stmt = self._uow.insert_ignore(subjects)
        if self._uow.run(stmt, mapping.subject_to_row(subject)).rowcount == 0:
            if self._uow.run(queries.select_subject, {"id": subject.id}).first() is not None:
                raise ConflictError(f"subject {subject.id!r} exists already")
            raise ConflictError(f"national code {subject.national_code!r} is already in use")
        self._insert_residences(subject)

    def find(self, subject_id: str) -> Subject | None:
        """Return the subject or ``None``.

        Raises:
            ScopeError: The subject exists but is outside the scope.
        """
        s = self._load(subject_id)
        if s is not None:
            self._uow.check_subject(s)
        return s

    def get(self, subject_id: str) -> Subject:
        """Return the subject.

        Raises:
            NotFoundError: No such subject.
            ScopeError: The subject is outside the scope.
        """
        s = self.find(subject_id)
        if s is None:
            raise NotFoundError("subject", subject_id)
        return s

    def get_many(self, subject_ids: Iterable[str]) -> list[Subject]:
        """The subjects, in the order of their first mention: two queries in all.

        Raises:
            NotFoundError: One is missing (the first missing in that order).
            ScopeError: One is outside the scope (if it comes before any missing one).
        """
        ids = list(dict.fromkeys(subject_ids))
        if not ids:
            return []
        run = self._uow.run
        stmts = queries.many_queries(self._uow.dialect)
        params = {"ids": queries.units_param(self._uow.dialect, ids)}
        rows = {r.id: r for r in run(stmts["subjects"], params)}
        res = {
            k: [mapping.residence_from_row(r) for r in g]
            for k, g in itertools.groupby(run(stmts["residences"], params), lambda r: r.subject_id)
        }
        out = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                raise NotFoundError("subject", i)
            s = mapping.subject_from_rows(row, res.get(i, ()))
            self._uow.check_subject(s)
            out.append(s)
        return out

    def find_by_code(self, national_code: str) -> Subject | None:
        """Return the subject with this national code, or ``None``.

        Raises:
            ScopeError: The subject exists but is outside the scope.
        """
        owner = self._uow.run(queries.select_subject_id_by_code, {"code": national_code})
        subject_id = owner.scalar()
        return self.find(subject_id) if subject_id is not None else None

    def update(self, subject: Subject) -> None:
        """Replace a stored subject.

        Raises:
            NotFoundError: No such subject.
            ScopeError: The stored or the new subject is outside the scope.
            ConflictError: The new national code belongs to another subject.
        """
        self.get(subject.id)
        self._uow.check_subject(subject)
        run = self._uow.run
        if subject.national_code is not None:
            params = {"code": subject.national_code, "id": subject.id}
            if run(queries.select_code_owner_other, params).first() is not None:
                raise ConflictError(f"national code {subject.national_code!r} is already in use")
        row = mapping.subject_to_row(subject)
        row["b_id"] = row.pop("id")
        run(queries.update_subject, row)
        run(queries.delete_residences, {"id": subject.id})
        self._insert_residences(subject)

    def list_resident(self, org_unit_ids: Sequence[str], *, on: dt.date) -> list[Subject]:
        """Subjects resident on ``on`` in one of ``org_unit_ids``, ordered by id.

        Subjects outside the scope are left out.
        """
        units = list(dict.fromkeys(org_unit_ids))
        if not units:
            return []
        run = self._uow.run
        dialect = self._uow.dialect
        people, homes = queries.resident_queries(dialect)
        params = {"units": queries.units_param(dialect, units), "on": on}
        rows = run(people, params).all()
        res = {
            k: list(g) for k, g in itertools.groupby(run(homes, params), lambda r: r.subject_id)
        }
        found = [
            mapping.subject_from_rows(r, map(mapping.residence_from_row, res.get(r.id, ())))
            for r in rows
        ]
        # The query matched on any residence; the port asks for the one that holds on
        # ``on`` (a subject cannot live in two places on one day, so this only trims).
        wanted = set(units)
        return [s for s in found if s.residence_on(on) in wanted and self._uow.admits(s)]

    def count(self) -> int:
        """How many subjects are stored within the scope."""
        if self._uow.scope is None:
            return int(self._uow.run(queries.count_subjects).scalar_one())
        params = {"scope": self._uow.scope}
        return int(self._uow.run(queries.count_subjects_in_scope, params).scalar_one())


class SqlAlchemyDoseRepository:
    """Administered doses in SQL (see :class:`immreg.ports.DoseRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _check_subject(self, subject_id: str) -> None:
        # Existence and residences in one query; the scope needs the residences.
        rows = self._uow.run(queries.select_subject_units, {"id": subject_id}).all()
        if not rows:
            raise NotFoundError("subject", subject_id, field="subject_id")
        if self._uow.scope is not None:
            units = {r.org_unit_id for r in rows if r.org_unit_id is not None}
            if not units & self._uow.subtree():
                raise self._uow.scope_error(subject_id)

    def add(self, dose: AdministeredDose) -> None:
        """Store a new dose.

        Raises:
            NotFoundError: The dose's subject does not exist.
            ScopeError: The subject is outside the scope.
            ConflictError: A dose with the same id exists.
        """
        self._check_subject(dose.subject_id)
        stmt = self._uow.insert_ignore(doses_table)
        if self._uow.run(stmt, mapping.dose_to_row(dose)).rowcount == 0:
            raise ConflictError(f"dose {dose.id!r} exists already")

    def find(self, dose_id: str) -> AdministeredDose | None:
        """Return the dose or ``None``.

        Raises:
            ScopeError: The dose's subject is outside the scope.
        """
        row = self._uow.run(queries.select_dose, {"id": dose_id}).first()
        if row is None:
            return None
        if self._uow.scope is not None:
            self._check_subject(row.subject_id)
        return mapping.dose_from_row(row)

    def get(self, dose_id: str) -> AdministeredDose:
        """Return the dose, voided or not.

        Raises:
            NotFoundError: No such dose.
            ScopeError: The dose's subject is outside the scope.
        """
        d = self.find(dose_id)
        if d is None:
            raise NotFoundError("dose", dose_id)
        return d

    def replace(self, dose: AdministeredDose, *, expected_version: int) -> None:
        """Replace a stored dose if its stored version is ``expected_version``.

        One ``UPDATE ... WHERE id = :id AND version = :expected``: a concurrent unit of
        work that changed the row first makes it match nothing (or, on PostgreSQL, fail
        with a serialization error), and either way this raises ConflictError.

        Raises:
            NotFoundError: No such dose.
            ScopeError: The dose's subject is outside the scope.
            ConflictError: The stored version is not ``expected_version``, or the subject
                differs.
        """
        if self._uow.scope is not None:
            self.get(dose.id)
        row = mapping.dose_to_row(dose)
        row["b_id"] = row.pop("id")
        row["b_subject_id"] = row.pop("subject_id")
        row["expected"] = expected_version
        if self._uow.run(queries.update_dose, row).rowcount == 1:
            return
        old = self.get(dose.id)
        if old.subject_id != dose.subject_id:
            raise ConflictError(f"dose {dose.id!r} belongs to another subject")
        raise ConflictError(
            f"dose {dose.id!r} is at version {old.version}, not {expected_version}"
        )

    def list_for_subject(
        self, subject_id: str, *, include_voided: bool = False
    ) -> list[AdministeredDose]:
        """The subject's doses, ordered by date then id.

        Raises:
            NotFoundError: No such subject.
            ScopeError: The subject is outside the scope.
        """
        self._check_subject(subject_id)
        stmt = (
            queries.select_doses_for_subject
            if include_voided
            else queries.select_unvoided_doses_for_subject
        )
        return [mapping.dose_from_row(r) for r in self._uow.run(stmt, {"subject_id": subject_id})]

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, include_voided: bool = False
    ) -> dict[str, list[AdministeredDose]]:
        """:meth:`list_for_subject` for each subject, in the order of their first mention:
        two queries in all (three in a scope).

        Raises:
            NotFoundError: A subject is missing (the first missing in that order).
            ScopeError: A subject is outside the scope (if it comes before any missing one).
        """
        ids = list(dict.fromkeys(subject_ids))
        if not ids:
            return {}
        run = self._uow.run
        stmts = queries.many_queries(self._uow.dialect)
        params = {"ids": queries.units_param(self._uow.dialect, ids)}
        found = set(run(stmts["subject_ids"], params).scalars())
        units: dict[str, set[str]] = {}
        if self._uow.scope is not None:
            for r in run(stmts["residences"], params):
                units.setdefault(r.subject_id, set()).add(r.org_unit_id)
        for i in ids:
            if i not in found:
                raise NotFoundError("subject", i, field="subject_id")
            if self._uow.scope is not None and not units.get(i, set()) & self._uow.subtree():
                raise self._uow.scope_error(i)
        out: dict[str, list[AdministeredDose]] = {i: [] for i in ids}
        stmt = stmts["doses"] if include_voided else stmts["unvoided_doses"]
        for r in run(stmt, params):
            out[r.subject_id].append(mapping.dose_from_row(r))
        return out

    def count(self) -> int:
        """How many dose records are stored within the scope, voided ones included."""
        if self._uow.scope is None:
            return int(self._uow.run(queries.count_doses).scalar_one())
        params = {"scope": self._uow.scope}
        return int(self._uow.run(queries.count_doses_in_scope, params).scalar_one())


class SqlAlchemyCatalogueRepository:
    """The vaccine catalogue in SQL (see :class:`immreg.ports.CatalogueRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def add_product(self, product: VaccineProduct) -> None:
        """Store a new product; the same content again is accepted.

        Raises:
            ConflictError: A product with the same code exists with other content.
        """
        stmt = self._uow.insert_ignore(products)
        if self._uow.run(stmt, mapping.product_to_row(product)).rowcount == 0:
            old = self.find_product(product.code)
            if old != product:
                raise ConflictError(f"product {product.code!r} exists with other content")

    def find_product(self, code: str) -> VaccineProduct | None:
        """Return the product or ``None``."""
        row = self._uow.run(queries.select_product, {"code": code}).first()
        return mapping.product_from_row(row) if row is not None else None

    def get_product(self, code: str) -> VaccineProduct:
        """Return the product.

        Raises:
            NotFoundError: No such product.
        """
        p = self.find_product(code)
        if p is None:
            raise NotFoundError("vaccine product", code)
        return p

    def list_products(self) -> list[VaccineProduct]:
        """All products, ordered by code."""
        return [mapping.product_from_row(r) for r in self._uow.run(queries.select_products)]


# Whole-row text of every org unit and parent link, hashed in the database.
_ORG_TREE_DIGEST = sa.text(
    "SELECT (SELECT md5(coalesce(string_agg(o::text, ',' ORDER BY o.id), '')) FROM org_units o)"
    " || (SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY p::text), ''))"
    " FROM org_unit_parents p)"
)
_org_tree_cache: weakref.WeakKeyDictionary[sa.Engine, tuple[str, tuple[OrgUnit, ...]]] = (
    weakref.WeakKeyDictionary()
)


class SqlAlchemyOrgUnitRepository:
    """The org-unit tree in SQL (see :class:`immreg.ports.OrgUnitRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def add(self, unit: OrgUnit) -> None:
        """Store a new org unit; the same content again is accepted.

        Raises:
            ConflictError: An org unit with the same id exists with other content.
        """
        row, parents = mapping.org_unit_to_rows(unit)
        if self._uow.run(self._uow.insert_ignore(org_units), row).rowcount == 0:
            if self.find(unit.id) != unit:
                raise ConflictError(f"org unit {unit.id!r} exists with other content")
            return
        if parents:
            self._uow.run(queries.insert_org_unit_parents, parents)
        self._uow.forget_subtree()

    def find(self, org_unit_id: str) -> OrgUnit | None:
        """Return the org unit or ``None``."""
        rows = self._uow.run(queries.select_org_unit_and_parents, {"id": org_unit_id}).all()
        return mapping.org_unit_from_joined_rows(rows) if rows else None

    def get(self, org_unit_id: str) -> OrgUnit:
        """Return the org unit.

        Raises:
            NotFoundError: No such org unit.
        """
        u = self.find(org_unit_id)
        if u is None:
            raise NotFoundError("org unit", org_unit_id)
        return u

    def list_all(self) -> list[OrgUnit]:
        """Every org unit, ordered by id.

        On PostgreSQL the units built last time are reused while a digest of both tables
        (read in this transaction, so its own writes count) is unchanged: a national tree
        of 11,000 communes takes a quarter of a second to build, a report's whole budget.
        """
        digest = None
        if self._uow.dialect == "postgresql":
            digest = self._uow.run(_ORG_TREE_DIGEST).scalar_one()
            cached = _org_tree_cache.get(self._uow.engine)
            if cached is not None and cached[0] == digest:
                return list(cached[1])
        units = self._build_all()
        if digest is not None:
            _org_tree_cache[self._uow.engine] = (digest, tuple(units))
        return units

    def subtree_ids(self, org_unit_id: str, *, on: dt.date) -> set[str]:
        """The unit and every unit below it on ``on``: one recursive query.

        Raises:
            NotFoundError: No such org unit.
        """
        ids = set(self._uow.run(queries.subtree_on, {"root": org_unit_id, "on": on}).scalars())
        if not ids:
            raise NotFoundError("org unit", org_unit_id)
        return ids

    def _build_all(self) -> list[OrgUnit]:
        links = {
            k: list(g)
            for k, g in itertools.groupby(
                self._uow.run(queries.select_all_org_unit_parents), lambda r: r.org_unit_id
            )
        }
        return [
            mapping.org_unit_from_rows(r, links.get(r.id, []))
            for r in self._uow.run(queries.select_org_units)
        ]


class SqlAlchemyLotRepository:
    """Vaccine lots in SQL (see :class:`immreg.ports.LotRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def add(self, lot: Lot) -> None:
        """Store a new lot; the same content again is accepted.

        Raises:
            ConflictError: The same (product, lot number) exists with other content.
        """
        inserted = self._uow.run(self._uow.insert_ignore(lots), mapping.lot_to_row(lot)).rowcount
        if inserted == 0 and self.find(lot.product_code, lot.lot_number) != lot:
            raise ConflictError(f"lot {lot.lot_number!r} of {lot.product_code!r} differs")

    def find(self, product_code: str, lot_number: str) -> Lot | None:
        """Return the lot or ``None``."""
        params = {"product_code": product_code, "lot_number": lot_number}
        row = self._uow.run(queries.select_lot, params).first()
        return mapping.lot_from_row(row) if row is not None else None


class SqlAlchemyAuditRepository:
    """The append-only audit trail in SQL (see :class:`immreg.ports.AuditRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def append(self, entry: AuditEntry) -> None:
        """Append an entry."""
        self._uow.run(queries.insert_audit, mapping.audit_to_row(entry))

    def list_for(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Entries about one record, oldest first."""
        params = {"entity": entity, "entity_id": entity_id}
        return [mapping.audit_from_row(r) for r in self._uow.run(queries.select_audit, params)]


class SqlAlchemyUnitOfWork:
    """One connection and one transaction (see :class:`immreg.ports.UnitOfWork`).

    The connection is taken from the engine's pool on entering the ``with`` block (or on
    first use) and returned on leaving it. Nothing is kept unless :meth:`commit` is called;
    after a commit the next statement begins a new transaction.

    Args:
        engine: The engine to take the connection from, configured by
            :func:`immreg.backends.sqlalchemy.configure_engine`.
        scope: Org-unit id whose subtree this unit of work is limited to.

    Attributes:
        subjects: Subjects.
        doses: Administered doses.
        catalogue: Vaccine products.
        org_units: The org-unit tree.
        lots: Vaccine lots.
        audit: The audit trail.
        stock: The stock ledger.
        scope: The scope org-unit id, or ``None``.
        dialect: The database's SQLAlchemy dialect name (``"sqlite"``, ``"postgresql"``).
    """

    # Declared as the ports' types: the UnitOfWork protocol's attributes are mutable, hence
    # invariant, so the concrete repository types would not match it for a type checker.
    subjects: SubjectRepository
    doses: DoseRepository
    catalogue: CatalogueRepository
    org_units: OrgUnitRepository
    lots: LotRepository
    audit: AuditRepository
    stock: StockLedgerRepository
    merges: MergeRepository
    verifications: DoseVerificationRepository
    aefi: AefiRepository
    pregnancies: PregnancyRepository
    maternal: MaternalRepository
    due: DueSummaryRepository
    outbox: OutboxRepository
    scope: str | None

    def __init__(self, engine: sa.Engine, *, scope: str | None = None) -> None:
        self.engine = engine
        self.scope = scope
        self.dialect = engine.dialect.name
        self._conn: sa.Connection | None = None
        self._subtree: frozenset[str] | None = None
        self.subjects = SqlAlchemySubjectRepository(self)
        self.doses = SqlAlchemyDoseRepository(self)
        self.catalogue = SqlAlchemyCatalogueRepository(self)
        self.org_units = SqlAlchemyOrgUnitRepository(self)
        self.lots = SqlAlchemyLotRepository(self)
        self.audit = SqlAlchemyAuditRepository(self)
        self.stock = SqlAlchemyStockLedger(self)
        self.merges = SqlAlchemyMergeRepository(self)
        self.verifications = SqlAlchemyDoseVerificationRepository(self)
        self.aefi = SqlAlchemyAefiRepository(self)
        self.pregnancies = SqlAlchemyPregnancyRepository(self)
        self.reports = SqlAlchemyReportRepository(self)
        self.maternal = SqlAlchemyMaternalRepository(self)
        self.due = SqlAlchemyDueSummaryRepository(self)
        self.outbox = SqlAlchemyOutboxRepository(self)

    # --- plumbing used by the repositories ---------------------------------------------

    @property
    def connection(self) -> sa.Connection:
        """The unit of work's connection, taken from the pool on first use."""
        if self._conn is None:
            try:
                conn = self.engine.connect()
            except sa.exc.DBAPIError as e:
                _raise_translated(e)
            if self.dialect == "postgresql":
                # Set here rather than on the engine so that an engine the caller built
                # gets it too; psycopg sends it with BEGIN, at no extra round trip.
                conn.execution_options(isolation_level=ISOLATION_LEVEL)
            self._conn = conn
        return self._conn

    def run(
        self,
        statement: sa.Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> sa.CursorResult[Any]:
        """Execute a statement on this unit of work's connection, translating errors.

        A database error rolls back every change since the last commit (on PostgreSQL the
        transaction is dead after one anyway), so the unit of work can go on afresh.

        Raises:
            ConflictError: A constraint was violated or a concurrent transaction won.
            BackendError: Any other database failure.
        """
        try:
            return self.connection.execute(statement, params)
        except sa.exc.DBAPIError as e:
            self._discard()
            _raise_translated(e)

    def fetch_tuples(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """Run a query and return its rows as plain tuples, errors translated as by
        :meth:`run`.

        For reads of thousands of rows in a request (a commune's due list). On PostgreSQL
        the query goes straight to the driver's cursor, in binary format, compiled once per
        statement: no SQLAlchemy result or row objects, a third of the client's time for
        such a read. The statement must not use expanding parameters there (an array
        parameter with ``= ANY`` does the same). Elsewhere it is :meth:`run`'s rows.

        Raises:
            ConflictError: A concurrent transaction won.
            BackendError: Any other database failure.
        """
        connection = self.connection
        if connection.dialect.name != "postgresql":
            return [tuple(r) for r in self.run(statement, params)]
        sql = _driver_sql(statement, connection.dialect)
        driver: Any = connection.connection.dbapi_connection
        try:
            with driver.cursor(binary=True) as cursor:
                cursor.execute(sql, params)
                rows: list[Any] = cursor.fetchall()
                return rows
        except connection.dialect.loaded_dbapi.Error as e:
            self._discard()
            _raise_translated(e)

    def _discard(self) -> None:
        # Best effort after a failure: a broken connection cannot roll back, and the error
        # that matters is the one being raised.
        self._subtree = None
        if self._conn is not None:
            try:
                self._conn.rollback()
            except sa.exc.SQLAlchemyError:
                self._close_quietly()

    def _close_quietly(self) -> None:
        # Drop a connection that may be broken, without raising.
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.invalidate()

    def insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` on ``table`` for this database."""
        return queries.insert_ignore(table, self.dialect)

    def subtree(self) -> frozenset[str]:
        """The ids of the scope's subtree, read once per transaction (or after a change)."""
        if self.scope is None:
            raise ScopeError("this unit of work has no scope")
        if self._subtree is None:
            rows = self.run(queries.subtree, {"scope": self.scope}).scalars()
            self._subtree = frozenset(rows)
        return self._subtree

    def forget_subtree(self) -> None:
        """Drop the cached subtree (the org-unit tree changed)."""
        self._subtree = None

    def admits(self, subject: Subject) -> bool:
        """Whether ``subject`` is within the scope (any residence, at any time)."""
        if self.scope is None:
            return True
        ids = self.subtree()
        return any(r.org_unit_id in ids for r in subject.residences)

    def scope_error(self, subject_id: str) -> ScopeError:
        """The error for a subject outside the scope."""
        return ScopeError(
            f"subject {subject_id!r} is not resident in org unit {self.scope!r} or below"
        )

    def check_subject(self, subject: Subject) -> None:
        """Raise ScopeError unless ``subject`` is within the scope."""
        if not self.admits(subject):
            raise self.scope_error(subject.id)

    # --- the UnitOfWork protocol -------------------------------------------------------

    def __enter__(self) -> Self:
        """Begin: take a connection; nothing is kept unless committed.

        Raises:
            NotFoundError: The scope org unit does not exist.
            BackendError: The database cannot be reached.
        """
        if self.scope is not None:
            try:
                if self.org_units.find(self.scope) is None:
                    raise NotFoundError("org unit", self.scope, field="scope")
            except BaseException:
                self.close()
                raise
        else:
            _ = self.connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and return the connection."""
        self.close()

    def commit(self) -> None:
        """Make every change since the last commit durable and visible.

        Raises:
            ConflictError: A concurrent change made this one impossible; nothing was kept.
            BackendError: The database failed; nothing was kept.
        """
        self._subtree = None
        if self._conn is None:
            return
        # The report counters of the children this transaction changed, in it.
        self.reports.flush()
        try:
            self._conn.commit()
        except sa.exc.DBAPIError as e:
            self._discard()
            _raise_translated(e)

    def rollback(self) -> None:
        """Discard every change since the last commit."""
        self._subtree = None
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except sa.exc.DBAPIError as e:
            _raise_translated(e)

    def close(self) -> None:
        """Roll back and return the connection to the pool (``__exit__`` does this)."""
        self._subtree = None
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()  # closing rolls back an open transaction
        except sa.exc.DBAPIError as e:
            _raise_translated(e)
