"""How caregivers and health stations behave: uptake, dropout, timeliness, deaths, moves.

A :class:`BehaviourModel` holds one :class:`DoseBehaviour` per planned visit (named
``"VACCINE:N"``, or ``"VACCINE"`` for every dose of a product) and a default for the rest,
plus the population's mortality, moves, duplicate registrations and the share of doses
recorded from paper. Values are probabilities and days; every one is checked when the model
is built, and a bad value raises :class:`~immreg.errors.ValidationError` naming it
(``doses['PENTA-COMBE5:2'].uptake``).

:data:`VIETNAM` is a Vietnam-like default. Its figures are **assumptions** of the right
order, not estimates: uptake is set so that cumulative coverage lands near the WHO/UNICEF
estimates of national immunization coverage (WUENIC) for Viet Nam in the early 2020s
(DTP1 about 95%, DTP3 about 90%, MCV1 about 90%, MCV2 about 85%, HepB birth dose about 80%),
and timeliness so that most doses fall in the 14-day window the packs use; check them
against the current WUENIC release and local survey data before drawing conclusions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from immreg.errors import ValidationError

__all__ = ["VIETNAM", "BehaviourModel", "DoseBehaviour"]


def _probability(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 <= float(value) <= 1.0 or math.isnan(float(value)):  # type: ignore[arg-type]
        raise ValidationError(attribute.name, "must be a probability between 0 and 1")


def _days(limit: int) -> Any:
    def check(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not 0 <= float(value) <= limit or math.isnan(float(value)):  # type: ignore[arg-type]
            raise ValidationError(attribute.name, f"must be a number of days from 0 to {limit}")

    return check


@attrs.frozen
class DoseBehaviour:
    """How one planned dose is taken up and when.

    A dose is due on the date the schedule recommends given the child's earlier doses.
    Of the children who get it, ``early`` come 1 to ``early_days`` days before that date
    (such a dose may be invalid: a day short of a minimum age does not count), ``on_time``
    within ``window_days`` after it, and the rest later, by an exponentially distributed
    number of days with mean ``late_mean_days`` after the window.

    Attributes:
        uptake: Probability of getting the dose; for a product's second and later doses,
            given the previous one (so ``1 - uptake`` is the dropout between them).
        on_time: Share given within the window.
        early: Share given early.
        window_days: Days after the due date still on time (14 in the packs).
        late_mean_days: Mean delay after the window for late doses.
        early_days: Most days early.
    """

    uptake: float = attrs.field(validator=_probability)
    on_time: float = attrs.field(default=0.75, validator=_probability)
    early: float = attrs.field(default=0.01, validator=_probability)
    window_days: int = attrs.field(default=14, validator=_days(366))
    late_mean_days: float = attrs.field(default=30.0, validator=_days(3650))
    early_days: int = attrs.field(default=7, validator=_days(60))

    def __attrs_post_init__(self) -> None:
        if self.on_time + self.early > 1.0 + 1e-12:
            raise ValidationError("on_time", "on_time and early together must not exceed 1")


def _dose_map(value: object) -> dict[str, DoseBehaviour]:
    if not isinstance(value, Mapping):
        raise ValidationError("doses", "must map 'VACCINE' or 'VACCINE:N' to a DoseBehaviour")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError("doses", "keys must be 'VACCINE' or 'VACCINE:N'")
        if not isinstance(item, DoseBehaviour):
            raise ValidationError(f"doses[{key!r}]", "must be a DoseBehaviour")
    return dict(value)


@attrs.frozen
class BehaviourModel:
    """The behaviour of a synthetic population.

    Attributes:
        default: Behaviour for any planned dose not named in ``doses``.
        doses: Behaviour per ``"VACCINE:N"`` (one dose) or ``"VACCINE"`` (all its doses).
        infant_mortality: Probability of dying before 1 year.
        child_mortality: Probability of dying between 1 and 5 years.
        move_rate: Probability per year of moving to another commune.
        duplicate_rate: Probability that a child is registered twice (a second record
            with some of the doses), for de-duplication testing.
        historical_share: Share of doses recorded from a card or paper register.
        missing_phone: Share of caregivers without a phone number.
    """

    default: DoseBehaviour = attrs.field(factory=lambda: DoseBehaviour(0.9))
    doses: dict[str, DoseBehaviour] = attrs.field(factory=dict, converter=_dose_map)
    infant_mortality: float = attrs.field(default=0.012, validator=_probability)
    child_mortality: float = attrs.field(default=0.004, validator=_probability)
    move_rate: float = attrs.field(default=0.03, validator=_probability)
    duplicate_rate: float = attrs.field(default=0.01, validator=_probability)
    historical_share: float = attrs.field(default=0.1, validator=_probability)
    missing_phone: float = attrs.field(default=0.05, validator=_probability)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.default, DoseBehaviour):
            raise ValidationError("default", "must be a DoseBehaviour")
        if self.infant_mortality + self.child_mortality > 1.0:
            raise ValidationError("child_mortality", "with infant_mortality exceeds 1")

    def for_event(self, key: str) -> DoseBehaviour:
        """The behaviour of the planned dose ``"VACCINE:N"``."""
        if key in self.doses:
            return self.doses[key]
        return self.doses.get(key.rsplit(":", 1)[0], self.default)

    def with_dose(self, key: str, **changes: Any) -> BehaviourModel:
        """A copy with one dose's (or product's) behaviour changed.

        Args:
            key: ``"VACCINE:N"`` or ``"VACCINE"``.
            **changes: :class:`DoseBehaviour` fields to change.

        Raises:
            ValidationError: A changed value is invalid.
        """
        base = self.for_event(key)
        try:
            changed = attrs.evolve(base, **changes)
        except ValidationError as e:
            raise e.prefixed(f"doses[{key!r}]") from None
        except TypeError as e:
            raise ValidationError(f"doses[{key!r}]", str(e)) from None
        return attrs.evolve(self, doses={**self.doses, key: changed})

    def with_extra_dropout(self, vaccine: str, extra: float, *, doses: int) -> BehaviourModel:
        """A copy where ``extra`` more of the children who get dose 1 miss dose ``doses``.

        "+10% DTP1-DTP3 dropout" is ``with_extra_dropout("PENTA-COMBE5", 0.10, doses=3)``:
        the dropout rate from dose 1 to dose 3, ``1 - P(dose 3 | dose 1)``, rises by
        ``extra`` (absolute), spread evenly over doses 2 to ``doses``.

        Raises:
            ValidationError: ``extra`` is not a probability, ``doses`` is below 2, or the
                dropout would exceed 100%.
        """
        _probability(None, attrs.fields(_Extra).extra, extra)
        if isinstance(doses, bool) or not isinstance(doses, int) or doses < 2:
            raise ValidationError("doses", "must be a dose number of 2 or more")
        keys = [f"{vaccine}:{n}" for n in range(2, doses + 1)]
        kept = math.prod(self.for_event(k).uptake for k in keys)
        if extra > kept:
            raise ValidationError("extra", f"would make the dropout exceed 100% ({kept:.3f} kept)")
        factor = ((kept - extra) / kept) ** (1 / len(keys)) if kept else 0.0
        model = self
        for k in keys:
            model = model.with_dose(k, uptake=model.for_event(k).uptake * factor)
        return model


@attrs.frozen
class _Extra:
    extra: float


def _b(uptake: float, **kw: Any) -> DoseBehaviour:
    return DoseBehaviour(uptake, **kw)


#: A Vietnam-like behaviour model for the ``vn-epi`` packs (assumptions: see the module).
VIETNAM = BehaviourModel(
    default=_b(0.9),
    doses={
        # Birth doses: BCG within the first month (the pack's window); HepB within 24 hours,
        # about 80% of births (assumption after WUENIC HepB-BD for Viet Nam).
        "BCG": _b(0.95, on_time=0.85, window_days=28, late_mean_days=20),
        "HEPB-BD": _b(0.82, on_time=0.9, early=0.0, window_days=1, late_mean_days=3),
        # DTP-HepB-Hib and bOPV at 2, 3, 4 months: DTP1 about 95%, DTP3 about 90%.
        "PENTA-COMBE5:1": _b(0.95),
        "PENTA-COMBE5": _b(0.975),
        "BOPV:1": _b(0.95),
        "BOPV": _b(0.975),
        "IPV:1": _b(0.9),
        "IPV:2": _b(0.92),
        # MCV1 about 90% (MVVAC at 9 months), MCV2 about 85% (MR at 18 months).
        "MEASLES-MVVAC": _b(0.92, on_time=0.7),
        "MR-MRVAC": _b(0.86, on_time=0.65, late_mean_days=45),
        "DTP": _b(0.85, on_time=0.65, late_mean_days=45),
        "JE-JEVAX:1": _b(0.85, on_time=0.6, late_mean_days=45),
        "JE-JEVAX": _b(0.95),
        # Newer vaccines still being rolled out (rotavirus from 2024, PCV from 2026):
        # lower uptake, an assumption.
        "ROTA-ROTAVIN:1": _b(0.7),
        "ROTA-ROTAVIN": _b(0.95),
        "PCV10:1": _b(0.7),
        "PCV10": _b(0.95),
    },
    # GSO: infant mortality about 12 per 1,000 live births (2023); under-5 about 18 per
    # 1,000 (assumption for the 1-5 year share).
    infant_mortality=0.012,
    child_mortality=0.004,
    move_rate=0.03,
    duplicate_rate=0.01,
    historical_share=0.1,
    missing_phone=0.05,
)
