"""The vaccine catalogue of Vietnam's Expanded Programme on Immunization (TCMR).

Each product has a stable local code (the vaccine code the ``vn-epi`` packs and dose
records use), the antigens one dose covers (named as the packs name them), and the CDC
CVX code where one exists. Where the CVX code names the same kind of vaccine but not this
product (a different manufacturer or formulation), the code is an approximation and
:data:`CVX_APPROXIMATE` lists it.

Products outside the programme that the packs must still recognise in a history (other
rotavirus vaccines, which stop the Rotavin course) are listed too, marked ``epi=False``
in :data:`EPI_PRODUCTS`.

Manufacturers are given only where they are well known (informational). Vials and
open-vial rules are indicative (WHO multi-dose vial policy, 2014: opened vials of
preserved liquid vaccines such as OPV, IPV, DTP-containing, TT/Td, HepB and PCV may be kept
up to 28 days; reconstituted live vaccines such as BCG, measles and MR are discarded at the
end of the session or after 6 hours): check them against the presentation supplied.
"""

from __future__ import annotations

from immreg.errors import NotFoundError
from immreg.model import OpenVialRule, VaccineProduct

__all__ = [
    "CVX_APPROXIMATE",
    "EPI_PRODUCTS",
    "PRODUCTS",
    "by_cvx",
    "product",
]

_DTP_HEPB_HIB = ("Diphtheria", "Pertussis", "Tetanus", "HepB", "Hib")

#: Every product, in programme order.
PRODUCTS: tuple[VaccineProduct, ...] = (
    VaccineProduct(
        code="HEPB-BD",
        name="Viêm gan B đơn giá (liều sơ sinh)",
        antigens=("HepB",),
        cvx="08",  # Hep B, adolescent or pediatric
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="BCG",
        name="BCG (lao)",
        antigens=("Tuberculosis",),
        cvx="19",
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        live=True,
    ),
    VaccineProduct(
        code="PENTA-COMBE5",
        name="DPT-VGB-Hib (ComBE Five)",
        antigens=_DTP_HEPB_HIB,
        cvx="102",  # DTP-Hib-Hep B (non-US): whole-cell pertussis, as here
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
        manufacturer="Biological E",
    ),
    VaccineProduct(
        code="PENTA-QUINVAXEM",
        name="DPT-VGB-Hib (Quinvaxem)",
        antigens=_DTP_HEPB_HIB,
        cvx="102",
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
        manufacturer="Crucell",
    ),
    VaccineProduct(
        code="BOPV",
        name="Bại liệt uống 2 týp (bOPV)",
        antigens=("Polio-OPV",),
        cvx="178",  # OPV bivalent (types 1 and 3), non-US
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
        live=True,
    ),
    VaccineProduct(
        code="IPV",
        name="Bại liệt tiêm (IPV)",
        antigens=("Polio-IPV",),
        cvx="10",
        doses_per_vial=5,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="MEASLES-MVVAC",
        name="Sởi (MVVAC)",
        antigens=("Measles",),
        cvx="05",
        doses_per_vial=10,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        manufacturer="POLYVAC",
        live=True,
    ),
    VaccineProduct(
        code="MR-MRVAC",
        name="Sởi-Rubella (MRVAC)",
        antigens=("Measles", "Rubella"),
        cvx="04",  # M/R
        doses_per_vial=10,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        manufacturer="POLYVAC",
        live=True,
    ),
    VaccineProduct(
        code="DTP",
        name="Bạch hầu-Ho gà-Uốn ván (DPT, mũi nhắc 18 tháng)",
        antigens=("Diphtheria", "Pertussis", "Tetanus"),
        cvx="01",  # DTP, whole-cell
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="TD",
        name="Uốn ván-Bạch hầu giảm liều (Td)",
        antigens=("Diphtheria", "Tetanus", "Tetanus (maternal)"),
        cvx="139",  # Td (adult), unspecified formulation: an approximation
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="TT",
        name="Uốn ván hấp phụ (TT)",
        antigens=("Tetanus", "Tetanus (maternal)"),
        cvx="35",  # tetanus toxoid, adsorbed
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="JE-JEVAX",
        name="Viêm não Nhật Bản (Jevax)",
        antigens=("JE",),
        cvx="39",  # JE vaccine SC (mouse-brain inactivated, another maker): approximation
        doses_per_vial=10,
        open_vial_rule=OpenVialRule.DISCARD_END_OF_SESSION,
        manufacturer="VABIOTECH",
    ),
    VaccineProduct(
        code="ROTA-ROTAVIN",
        name="Rota (Rotavin-M1)",
        antigens=("Rotavirus",),
        cvx="119",  # rotavirus, monovalent (Rotarix): same kind, other product
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.DISCARD_END_OF_SESSION,
        manufacturer="POLYVAC",
        live=True,
    ),
    VaccineProduct(
        code="PCV10",
        name="Phế cầu 10 typ (PCV10)",
        antigens=("Pneumococcal",),
        cvx="177",
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="PCV13",
        name="Phế cầu 13 typ (PCV13)",
        antigens=("Pneumococcal",),
        cvx="133",
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        code="ROTA-ROTARIX",
        name="Rotarix (ngoài TCMR)",
        antigens=("Rotavirus",),
        cvx="119",
        doses_per_vial=1,
        live=True,
    ),
    VaccineProduct(
        code="ROTA-ROTATEQ",
        name="RotaTeq (ngoài TCMR)",
        antigens=("Rotavirus",),
        cvx="116",
        doses_per_vial=1,
        live=True,
    ),
)

#: Whether each product code is supplied by the programme (False: recognised in histories).
EPI_PRODUCTS: dict[str, bool] = {
    p.code: p.code not in ("ROTA-ROTARIX", "ROTA-ROTATEQ") for p in PRODUCTS
}

#: Product codes whose CVX code names the same kind of vaccine, not this exact product.
CVX_APPROXIMATE: frozenset[str] = frozenset({"TD", "JE-JEVAX", "ROTA-ROTAVIN"})

_BY_CODE = {p.code: p for p in PRODUCTS}


def product(code: str) -> VaccineProduct:
    """Return the product with a local code.

    Raises:
        NotFoundError: No product has this code.
    """
    try:
        return _BY_CODE[code]
    except KeyError:
        raise NotFoundError("vaccine product", code) from None


def by_cvx(cvx: str) -> tuple[VaccineProduct, ...]:
    """Return the products whose CVX code is ``cvx`` (several products may share one)."""
    return tuple(p for p in PRODUCTS if p.cvx == cvx)
