"""Leaf counters for reports, kept up to date in each writing transaction.

A report over the whole country must not read every dose. So each child's *contribution*
to the report counters is kept: its cohort state (where it lives, whether alive, which
cohort counters of the counted definition it adds to) at the end of every month in which
that state changes, and its numbered doses (the ``k``-th dose of each antigen, with the
facility and month it was given). Contributions are summed per (org unit, birth month or
year, month of change) and per (facility, dose month) in ``report_counters``, so a report
whose cohort and period are whole months and whose ``as_of`` is a month's last day reads
``O(org units x months)`` rows, however many doses there are:

* a cohort counter of unit ``u`` on ``as_of`` is the sum of the rows of ``u`` whose birth
  bucket is in the cohort and whose change month is at or before ``as_of``'s month (the
  rows are deltas: a child who moves adds -1 where it lived and +1 where it lives);
* an administrative counter is the sum of the rows of the facility whose dose month is in
  the period.

Maintenance: database triggers mark a child dirty on any write to its subject, residence
or dose rows (and to a product its doses name); :func:`apply_children` recomputes dirty
children in the writer's transaction (the unit of work does it at commit, for its own
writes), subtracting the stored contribution and adding the new one. Counter rows are only
ever appended, so concurrent transactions never conflict over them;
:func:`compact_report_counters` merges them. Bulk loads leave their children dirty:
:func:`refresh_report_counters` applies them in chunks, each its own transaction (so a
killed refresh resumes where it stopped). While any child is dirty, reports use the exact
query over the doses instead, so the numbers are always those of
:func:`immreg.indicators.leaf_tallies`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa

from immreg.backends.sqlalchemy.reports_tables import (
    SLOTS,
    report_children,
    report_counters,
    report_dirty,
)
from immreg.backends.sqlalchemy.tables import doses, residences, subjects
from immreg.indicators import (
    DTP,
    UNASSIGNED,
    ReportSpec,
    Tally,
    doses_key,
    dropped_key,
    received_key,
)
from immreg.model import Residence, VaccineProduct

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy import SqlAlchemyBackend
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = [
    "ADMIN_KEYS",
    "COHORT_KEYS",
    "COUNTED",
    "ChildState",
    "answers",
    "antigen_indices",
    "apply_children",
    "child_state",
    "compact_report_counters",
    "counter_tallies",
    "flush",
    "pending",
    "rebuild_report_counters",
    "refresh_report_counters",
]

#: The definition the counters are kept for (the defaults of :class:`ReportSpec`): a report
#: counting a subset of its antigens (up to its dose numbers), a subset of its dropout
#: pairs and the same fully-immunized definition is answered from the counters.
COUNTED = ReportSpec(
    as_of=dt.date(2000, 1, 31), birth_from=dt.date(2000, 1, 1), birth_until=dt.date(2000, 2, 1)
)
#: Cohort counters, in slot order.
COHORT_KEYS: tuple[str, ...] = (
    "cohort",
    *(received_key(a, k) for a, n in COUNTED.antigens for k in range(1, n + 1)),
    *(dropped_key(p) for p in COUNTED.dropout_pairs),
    "fic",
    "zero_dose",
)
#: Administrative counters, in slot order.
ADMIN_KEYS: tuple[str, ...] = tuple(
    doses_key(a, k) for a, n in COUNTED.antigens for k in range(1, n + 1)
)
if max(len(COHORT_KEYS), len(ADMIN_KEYS)) > SLOTS:  # pragma: no cover - a definition error
    raise RuntimeError("the counted definition needs more counter slots than the table has")
_COHORT_BIT = {k: i for i, k in enumerate(COHORT_KEYS)}
_HIGHEST = dict(COUNTED.antigens)
_ADMIN_BIT = {(a, k): i for i, (a, k) in enumerate(
    (a, k) for a, n in COUNTED.antigens for k in range(1, n + 1)
)}  # fmt: skip

# The month index of the state before any change (a month before every report).
_EVER = 12  # 0001-01
# Children per statement (well under the bound parameters SQLite and PostgreSQL allow).
_CHUNK = 5000
# On SQLite (no transaction ids) a commit applies every pending child, up to this many;
# beyond (after a bulk load), they wait for refresh_report_counters.
_FLUSH_LIMIT = 10_000


def _among(uow: SqlAlchemyUnitOfWork, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """``column`` is one of the ``ids`` parameter's values: one array parameter on
    PostgreSQL (thousands of placeholders cost more to send than the query to run)."""
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return column == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
    return column.in_(sa.bindparam("ids", expanding=True))


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _first(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def _last_day(month: int) -> dt.date:
    if month >= _month(dt.date.max):
        return dt.date.max
    return _first(month + 1) - dt.timedelta(days=1)


@attrs.frozen
class ChildState:
    """What one child adds to the counters.

    Attributes:
        birth: Birth month (``year * 12 + month - 1``).
        cohort: ``(month, org unit or None when dead, cohort slot mask)`` from the end of
            each month in which it changed, the first for the time before any change.
        admin: ``(dose month, facility, administrative slot mask)`` of its numbered doses.
    """

    birth: int
    cohort: tuple[tuple[int, str | None, int], ...]
    admin: tuple[tuple[int, str, int], ...]

    def encode(self) -> str:
        """Compact JSON for ``report_children.state``."""
        return json.dumps(
            [self.birth, [list(c) for c in self.cohort], [list(a) for a in self.admin]],
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @staticmethod
    def decode(text: str) -> ChildState:
        """The state :meth:`encode` wrote."""
        birth, cohort, admin = json.loads(text)
        return ChildState(
            birth,
            tuple((int(m), u, int(k)) for m, u, k in cohort),
            tuple((int(m), f, int(k)) for m, f, k in admin),
        )


_ANTIGENS = tuple(a for a, _ in COUNTED.antigens)
_CAPS = tuple(n for _, n in COUNTED.antigens)
# Administrative slot of the k-th dose of each antigen (by antigen index), None beyond.
_ADMIN_SLOT = tuple(
    (None, *(_ADMIN_BIT[(a, k)] for k in range(1, n + 1))) for a, n in COUNTED.antigens
)
# Cohort masks by capped dose counts (capping at the highest dose number counted keeps
# every condition of child_counters), and the slots of each mask: both memoized.
_MASKS: dict[tuple[int, ...], int] = {}
_BITS: dict[int, tuple[int, ...]] = {}


def _mask(counts: Sequence[int]) -> int:
    # ``counts`` are capped at _CAPS by the caller.
    key = tuple(counts)
    mask = _MASKS.get(key)
    if mask is None:
        mask = 0
        named = {a: c for a, c in zip(_ANTIGENS, key, strict=True) if c}
        for counter in COUNTED.child_counters(named):
            mask |= 1 << _COHORT_BIT[counter]
        _MASKS[key] = mask
    return mask


def _bits(mask: int) -> tuple[int, ...]:
    bits = _BITS.get(mask)
    if bits is None:
        bits = _BITS[mask] = tuple(i for i in range(SLOTS) if mask >> i & 1)
    return bits


def child_state(
    birth_date: dt.date,
    deceased_on: dt.date | None,
    homes: Sequence[Residence],
    history: Iterable[tuple[dt.date, str, str, str]],
    antigen_of: Mapping[str, Sequence[int]],
) -> ChildState:
    """A child's contribution, by the rules of :func:`immreg.indicators.leaf_tallies`.

    Args:
        birth_date: The child's birth date.
        deceased_on: Day of death, if any.
        homes: Residences, in the order :class:`immreg.model.Subject` keeps them.
        history: Unvoided doses as ``(date, id, facility, product code)``.
        antigen_of: Indices in :data:`COUNTED`'s antigens of each product code's antigens
            (see :func:`antigen_indices`).
    """
    given = sorted(d for d in history if d[3] in antigen_of)
    number = [0] * len(_ANTIGENS)
    admin: dict[tuple[int, str], int] = {}
    for day, _, facility, code in given:
        for ai in antigen_of[code]:
            number[ai] = k = number[ai] + 1
            slots = _ADMIN_SLOT[ai]
            if k < len(slots):
                key = (day.year * 12 + day.month - 1, facility)
                admin[key] = admin.get(key, 0) | (1 << slots[k])  # type: ignore[operator]
    changes = {d[0] for d in given}
    for r in homes:
        changes.add(r.start)
        if r.end is not None:
            changes.add(r.end)
    if deceased_on is not None:
        changes.add(deceased_on)
    counts = [0] * len(_ANTIGENS)
    states: list[tuple[int, str | None, int]] = [(_EVER, UNASSIGNED, _mask(counts))]
    seen = 0
    for month in sorted({c.year * 12 + c.month - 1 for c in changes}):
        end = _last_day(month)
        while seen < len(given) and given[seen][0] <= end:
            for ai in antigen_of[given[seen][3]]:
                if counts[ai] < _CAPS[ai]:
                    counts[ai] += 1
            seen += 1
        if deceased_on is not None and deceased_on <= end:
            state: tuple[int, str | None, int] = (month, None, 0)
        else:
            unit = next((r.org_unit_id for r in homes if r.covers(end)), UNASSIGNED)
            state = (month, unit, _mask(counts))
        if state[1:] != states[-1][1:]:
            states.append(state)
    return ChildState(
        _month(birth_date),
        tuple(states),
        tuple(sorted((m, f, k) for (m, f), k in admin.items())),
    )


Key = tuple[str, str, int, int]


def _add_bits(out: dict[Key, list[int]], key: Key, mask: int, sign: int) -> None:
    if not mask:
        return
    row = out.get(key)
    if row is None:
        row = out[key] = [0] * SLOTS
    for i in _bits(mask):
        row[i] += sign


def _contribute(state: ChildState, sign: int, out: dict[Key, list[int]]) -> None:
    year = state.birth - state.birth % 12
    prev_unit: str | None = None
    prev_mask = 0
    for month, unit, mask in state.cohort:
        for kind, bucket in (("M", state.birth), ("Y", year)):
            if unit == prev_unit and unit is not None:
                _add_bits(out, (kind, unit, bucket, month), mask & ~prev_mask, sign)
                _add_bits(out, (kind, unit, bucket, month), prev_mask & ~mask, -sign)
            else:
                if prev_unit is not None:
                    _add_bits(out, (kind, prev_unit, bucket, month), prev_mask, -sign)
                if unit is not None:
                    _add_bits(out, (kind, unit, bucket, month), mask, sign)
        prev_unit, prev_mask = unit, mask
    for month, facility, mask in state.admin:
        _add_bits(out, ("A", facility, month, month), mask, sign)


def antigen_indices(products: Iterable[VaccineProduct]) -> dict[str, tuple[int, ...]]:
    """Indices in :data:`COUNTED`'s antigens of each product's counted antigens."""
    codes = COUNTED.codes_by_antigen(products)
    out: dict[str, list[int]] = {}
    for ai, antigen in enumerate(_ANTIGENS):
        for code in sorted(codes[antigen]):
            out.setdefault(code, []).append(ai)
    return {code: tuple(ais) for code, ais in out.items()}


def apply_children(uow: SqlAlchemyUnitOfWork, ids: Sequence[str]) -> int:
    """Recompute the contributions of ``ids`` in ``uow``'s transaction; counter rows written.

    The stored contribution is subtracted and the current one added (a child no longer
    stored is only subtracted). Two transactions applying the same child at once conflict
    over its ``report_children`` row, so one fails with
    :class:`~immreg.errors.ConflictError` rather than counting it twice.
    """
    run = uow.run
    antigen_of = antigen_indices(uow.catalogue.list_products())
    ids = list(dict.fromkeys(ids))
    # Summed over every child before writing: children of the same units share rows.
    delta: dict[Key, list[int]] = {}
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        param = {"ids": chunk}
        stored: Any = run(
            sa.select(report_children.c.subject_id, report_children.c.state).where(
                _among(uow, report_children.c.subject_id)
            ),
            param,
        )
        old: dict[str, str] = dict(stored.all())
        people = {
            r.id: r
            for r in run(
                sa.select(subjects.c.id, subjects.c.birth_date, subjects.c.deceased_on).where(
                    _among(uow, subjects.c.id)
                ),
                param,
            )
        }
        homes: dict[str, list[Residence]] = defaultdict(list)
        for r in run(
            sa.select(residences)
            .where(_among(uow, residences.c.subject_id))
            .order_by(residences.c.subject_id, residences.c.seq),
            param,
        ):
            homes[r.subject_id].append(Residence(r.org_unit_id, r.start, r.end))
        given: dict[str, list[tuple[dt.date, str, str, str]]] = defaultdict(list)
        for r in run(
            sa.select(
                doses.c.subject_id,
                doses.c.date,
                doses.c.id,
                doses.c.facility_id,
                doses.c.product_code,
            ).where(
                _among(uow, doses.c.subject_id),
                doses.c.voided == sa.false(),
            ),
            param,
        ):
            given[r.subject_id].append((r.date, r.id, r.facility_id, r.product_code))
        gone: list[str] = []
        fresh: list[tuple[str, str]] = []
        for sid in chunk:
            p = people.get(sid)
            text = None
            state = None
            if p is not None:
                # Residences as Subject keeps them: oldest first (a stable sort).
                home = sorted(homes.get(sid, ()), key=lambda r: r.start)
                state = child_state(
                    p.birth_date, p.deceased_on, home, given.get(sid, ()), antigen_of
                )
                text = state.encode()
            before = old.get(sid)
            if text == before:
                continue
            if before is not None:
                _contribute(ChildState.decode(before), -1, delta)
                gone.append(sid)
            if state is not None and text is not None:
                _contribute(state, 1, delta)
                fresh.append((sid, text))
        if gone:
            run(
                report_children.delete().where(_among(uow, report_children.c.subject_id)),
                {"ids": gone},
            )
        _write(uow, report_children, fresh)
    rows = [
        (kind, unit, _first(bucket), _first(at), *values)
        for (kind, unit, bucket, at), values in sorted(delta.items())
        if any(values)
    ]
    _write(uow, report_counters, rows)
    return len(rows)


# Beyond this many rows, PostgreSQL gets them by COPY rather than one INSERT each.
_COPY_FROM = 200


def _write(uow: SqlAlchemyUnitOfWork, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in the table's column order) in ``uow``'s transaction."""
    if not rows:
        return
    names = [col.name for col in table.c]
    if uow.dialect == "postgresql" and len(rows) > _COPY_FROM:
        quoted = ", ".join(f'"{n}"' for n in names)
        import psycopg

        driver: Any = uow.connection.connection.driver_connection
        try:
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as e:  # translated as uow.run does
            from immreg.backends.sqlalchemy.uow import translate_error

            uow.rollback()
            raise translate_error(e) from e
        return
    uow.run(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])


def flush(uow: SqlAlchemyUnitOfWork) -> None:
    """Apply the children this transaction made dirty (the unit of work calls it at commit)."""
    if uow.dialect == "postgresql":
        mine = report_dirty.c.txid == sa.func.txid_current_if_assigned()
        ids = uow.run(report_dirty.delete().where(mine).returning(report_dirty.c.subject_id))
        apply_children(uow, list(ids.scalars()))
        return
    pending = uow.run(sa.select(sa.func.count()).select_from(report_dirty)).scalar_one()
    if 0 < pending <= _FLUSH_LIMIT:
        ids = uow.run(report_dirty.delete().returning(report_dirty.c.subject_id))
        apply_children(uow, list(ids.scalars()))


def answers(spec: ReportSpec) -> bool:
    """Whether the counters can answer ``spec`` (else the exact query is used).

    The cohort and the period must be whole months, ``as_of`` a month's last day, and the
    spec within :data:`COUNTED` (its antigens up to their dose numbers, its dropout pairs,
    the same fully-immunized definition or none).
    """
    if any(d.day != 1 for d in (spec.birth_from, spec.birth_until)):
        return False
    if any(d.day != 1 for d in (spec.period_start, spec.period_end)):
        return False
    if spec.as_of == dt.date.max or (spec.as_of + dt.timedelta(days=1)).day != 1:
        return False
    if any(_HIGHEST.get(a, 0) < n for a, n in spec.antigens):
        return False
    if any(p not in COUNTED.dropout_pairs for p in spec.dropout_pairs):
        return False
    return not spec.fic or set(spec.fic) == set(COUNTED.fic)


def _cohort_ranges(spec: ReportSpec) -> list[tuple[str, dt.date, dt.date]]:
    # Whole years from the year rows, the months around them from the month rows.
    lo, hi = _month(spec.birth_from), _month(spec.birth_until)
    y_lo = lo + (-lo) % 12
    y_hi = hi - hi % 12
    if y_lo >= y_hi:
        return [("M", _first(lo), _first(hi))]
    out = [("Y", _first(y_lo), _first(y_hi))]
    if lo < y_lo:
        out.append(("M", _first(lo), _first(y_lo)))
    if y_hi < hi:
        out.append(("M", _first(y_hi), _first(hi)))
    return out


def pending(uow: SqlAlchemyUnitOfWork) -> bool:
    """Whether some child is dirty (its changes not yet in the counters)."""
    return uow.run(sa.select(report_dirty.c.subject_id).limit(1)).first() is not None


def counter_tallies(
    uow: SqlAlchemyUnitOfWork, spec: ReportSpec, wanted: Sequence[str] | None
) -> dict[str, Tally]:
    """Leaf tallies from the counters (the caller checked :func:`answers` and pending)."""
    c = report_counters.c
    cohort = [
        ("cohort", "cohort"),
        *(
            (received_key(a, k), received_key(a, k))
            for a, n in spec.antigens
            for k in range(1, n + 1)
        ),
        *((dropped_key(p), dropped_key(p)) for p in spec.dropout_pairs),
        # With no requirement, every child of the cohort is fully immunized.
        ("fic", "fic" if spec.fic else "cohort"),
        # Without DTP among the antigens counted, every child counts as zero-dose.
        ("zero_dose", "zero_dose" if DTP in dict(spec.antigens) else "cohort"),
    ]
    admin = [doses_key(a, k) for a, n in spec.antigens for k in range(1, n + 1)]
    queries: list[tuple[list[str], sa.Select[Any]]] = []
    for kind, lo, hi in _cohort_ranges(spec):
        cols = [sa.func.sum(c[f"v{_COHORT_BIT[src]:02d}"]) for _, src in cohort]
        q = (
            sa.select(c.org_unit_id, *cols)
            .where(c.kind == kind, c.bucket >= lo, c.bucket < hi, c.at <= spec.as_of)
            .group_by(c.org_unit_id)
        )
        queries.append(([key for key, _ in cohort], q))
    bits = [ADMIN_KEYS.index(key) for key in admin]
    q = (
        sa.select(c.org_unit_id, *(sa.func.sum(c[f"v{b:02d}"]) for b in bits))
        .where(c.kind == "A", c.bucket >= spec.period_start, c.bucket < spec.period_end)
        .group_by(c.org_unit_id)
    )
    queries.append((admin, q))
    if uow.dialect == "postgresql":
        # These queries read thousands of rows, not millions, but their cost estimates
        # cross jit_above_cost: compiling them took longer than running them.
        uow.run(sa.text("SET LOCAL jit = off"))
    out: dict[str, dict[str, int]] = {}
    for keys, q in queries:
        if wanted is not None:
            q = q.where(c.org_unit_id.in_(wanted))
        for row in uow.run(q):
            counts = out.setdefault(row[0], {})
            values: Sequence[Any] = row[1:]
            for key, value in zip(keys, values, strict=True):
                if value:
                    counts[key] = counts.get(key, 0) + int(value)
    return {u: Tally(t) for u, t in out.items() if any(t.values())}


def refresh_report_counters(
    backend: SqlAlchemyBackend,
    *,
    chunk: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Apply every dirty child (after a bulk load or a migration); children applied.

    Each chunk of children is its own transaction, so a refresh that is killed leaves the
    rest dirty and the next one goes on from there. Ends with :func:`compact_report_counters`.

    Raises:
        ValidationError: ``chunk`` is not a positive whole number.
        ConflictError: A concurrent writer changed a child of the chunk; run it again.
        BackendError: The database failed.
    """
    from immreg.errors import ValidationError

    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise ValidationError("chunk", "must be a whole number, 1 or more")
    done = 0
    # Children of the same org unit together, so that a chunk's counter rows are few: the
    # dirty children as they are now, ordered by a unit they live in.
    with backend.unit_of_work() as uow:
        dirty = sa.select(report_dirty.c.subject_id).distinct().subquery()
        first_home = (
            sa.select(residences.c.subject_id, sa.func.min(residences.c.org_unit_id).label("u"))
            .group_by(residences.c.subject_id)
            .subquery()
        )
        q = (
            sa.select(dirty.c.subject_id)
            .select_from(
                dirty.outerjoin(first_home, first_home.c.subject_id == dirty.c.subject_id)
            )
            .order_by(first_home.c.u, dirty.c.subject_id)
        )
        order = list(uow.run(q).scalars())
    # Then whatever was marked meanwhile, until nothing is left.
    while order:
        for k in range(0, len(order), chunk):
            ids = order[k : k + chunk]
            with backend.unit_of_work() as uow:
                apply_children(uow, ids)
                for j in range(0, len(ids), _CHUNK):
                    uow.run(
                        report_dirty.delete().where(_among(uow, report_dirty.c.subject_id)),
                        {"ids": ids[j : j + _CHUNK]},
                    )
                uow.commit()
            done += len(ids)
            if progress is not None:
                progress(done)
        with backend.unit_of_work() as uow:
            q = sa.select(report_dirty.c.subject_id).distinct().order_by(report_dirty.c.subject_id)
            order = list(uow.run(q).scalars())
    compact_report_counters(backend)
    return done


def rebuild_report_counters(backend: SqlAlchemyBackend) -> int:
    """Recompute every counter from the stored records; the number of children.

    Empties the counters and marks every subject dirty in one transaction (reports use the
    exact query meanwhile), then :func:`refresh_report_counters`.

    Raises:
        BackendError: The database failed.
    """
    with backend.unit_of_work() as uow:
        uow.run(report_counters.delete())
        uow.run(report_children.delete())
        uow.run(report_dirty.delete())
        uow.run(
            report_dirty.insert().from_select(
                ["subject_id", "txid"], sa.select(subjects.c.id, sa.literal(0))
            )
        )
        marked = uow.run(sa.select(sa.func.count()).select_from(subjects)).scalar_one()
        uow.commit()
    refresh_report_counters(backend)
    return int(marked)


def compact_report_counters(backend: SqlAlchemyBackend) -> int:
    """Merge the counter rows of each key into one (rows that sum to zero go); rows left.

    Concurrent writers are not blocked: on PostgreSQL one ``DELETE ... RETURNING`` feeds the
    ``INSERT`` of the sums, at READ COMMITTED, so rows appended meanwhile are kept as they
    are. Run it after large loads, or nightly.

    Raises:
        BackendError: The database failed.
    """
    c = report_counters.c
    key = [c.kind, c.org_unit_id, c.bucket, c.at]
    values = [c[f"v{i:02d}"] for i in range(SLOTS)]
    engine = backend.engine
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="READ COMMITTED") as conn:
                gone = report_counters.delete().returning(*report_counters.c).cte("gone")
                g = gone.c
                sums = [sa.func.sum(g[v.name]) for v in values]
                merged = (
                    sa.select(g.kind, g.org_unit_id, g.bucket, g.at, *sums)
                    .group_by(g.kind, g.org_unit_id, g.bucket, g.at)
                    .having(sa.or_(*(s != 0 for s in sums)))
                    # In index order: a report's rows (one kind, one cohort) are then
                    # contiguous on disk, and read by index rather than by a full scan.
                    .order_by(g.kind, g.bucket, g.org_unit_id, g.at)
                )
                conn.execute(
                    report_counters.insert().from_select(
                        [k.name for k in key] + [v.name for v in values], merged
                    )
                )
                conn.commit()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE report_counters"))
                rows = conn.execute(sa.select(sa.func.count()).select_from(report_counters))
                return int(rows.scalar_one())
        with engine.begin() as conn:
            labelled = [sa.func.sum(v).label(v.name) for v in values]
            merged_rows = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(*key, *labelled)
                    .group_by(*key)
                    .having(sa.or_(*(s != 0 for s in labelled)))
                )
            ]
            conn.execute(report_counters.delete())
            if merged_rows:
                conn.execute(report_counters.insert(), merged_rows)
            return len(merged_rows)
    except sa.exc.DBAPIError as e:
        from immreg.backends.sqlalchemy.uow import translate_error

        raise translate_error(e) from e
