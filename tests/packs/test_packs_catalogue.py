"""The catalogue agrees with the packs, and every rule of every pack cites its source."""

from __future__ import annotations

import attrs
import pytest

from immreg.errors import NotFoundError
from immreg.schedule import load_schedule
from immreg.schedule.catalogue import CVX_APPROXIMATE, EPI_PRODUCTS, PRODUCTS, by_cvx, product
from immreg.schedule.render import bundled_packs

PACKS = ["vn-epi-2018", "vn-epi-2024", "vn-epi-2026", "vn-epi", "who"]


def test_the_bundled_packs() -> None:
    assert bundled_packs() == sorted(PACKS)


def test_codes_are_unique_and_the_issue_s_products_are_there() -> None:
    codes = [p.code for p in PRODUCTS]
    assert len(codes) == len(set(codes))
    for code in (
        "HEPB-BD", "BCG", "PENTA-COMBE5", "PENTA-QUINVAXEM", "BOPV", "IPV", "MEASLES-MVVAC",
        "MR-MRVAC", "DTP", "TD", "TT", "JE-JEVAX", "ROTA-ROTAVIN", "PCV10", "PCV13",
    ):  # fmt: skip
        assert EPI_PRODUCTS[code] is True
    assert product("PENTA-COMBE5").antigens == (
        "Diphtheria",
        "Pertussis",
        "Tetanus",
        "HepB",
        "Hib",
    )
    assert product("PENTA-COMBE5").cvx == "102"
    assert {p.code for p in by_cvx("102")} == {"PENTA-COMBE5", "PENTA-QUINVAXEM"}
    assert set(codes) >= CVX_APPROXIMATE
    with pytest.raises(NotFoundError):
        product("NOPE")


@pytest.mark.parametrize("pack", ["vn-epi-2026", "vn-epi"])
def test_the_vn_pack_maps_each_product_to_the_catalogue_s_antigens(pack: str) -> None:
    s = load_schedule(pack)
    mapped: dict[str, set[str]] = {}
    for assoc in s.vaccines:
        mapped.setdefault(assoc.vaccine, set()).add(assoc.antigen)
    assert {p.code: set(p.antigens) for p in PRODUCTS} == mapped


def _rules(value: object, out: list[object]) -> list[object]:
    if attrs.has(type(value)):
        if hasattr(value, "source"):
            out.append(value)
        for a in attrs.fields(type(value)):  # type: ignore[arg-type]
            if a.init:
                _rules(getattr(value, a.name), out)
    elif isinstance(value, tuple):
        for item in value:
            _rules(item, out)
    return out


@pytest.mark.parametrize("pack", PACKS)
def test_every_rule_cites_its_source(pack: str) -> None:
    rules = _rules(load_schedule(pack), [])
    assert len(rules) > 100
    missing = [getattr(r, "rule_id", r) for r in rules if not r.source]
    assert missing == []


@pytest.mark.parametrize(
    ("pack", "rule_id"),
    [
        ("vn-epi-2026", "vn2026/Pneumococcal/PCV 3-dose/dose 1"),
        ("vn-epi-2024", "vn2024/Rotavirus/Rotavin 2-dose/dose 1"),
        ("vn-epi-2018", "vn2018/Polio-IPV/IPV/dose 2"),
        ("vn-epi-2018", "vn2018/Polio-IPV/IPV/dose 2/interval"),
        ("vn-epi-2018", "vn2018/HepB/birth dose + 3/dose 1/skip late birth dose"),
        ("vn-epi-2018", "vn2018/Diphtheria/childhood/dose 4/interval"),
        ("vn-epi-2018", "vn2018/Tetanus (maternal)/TT-Td 5-dose/dose 1/age"),
        ("vn-epi-2026", "vn2026/Tuberculosis/BCG/dose 1"),
        ("who", "who/HPV/girls 1-dose/dose 1"),
    ],
)
def test_uncertain_rules_say_so(pack: str, rule_id: str) -> None:
    from immreg.schedule.explain import rule

    found = rule(load_schedule(pack), rule_id)
    assert found is not None
    assert "ncertain" in found.source  # type: ignore[attr-defined]


def test_circulars_are_cited_by_name() -> None:
    for pack, circular in (
        ("vn-epi-2018", "38/2017/TT-BYT"),
        ("vn-epi-2024", "10/2024/TT-BYT"),
        ("vn-epi-2026", "52/2025/TT-BYT"),
    ):
        s = load_schedule(pack)
        doses = [d for a in s.antigens for se in a.series for d in se.doses]
        assert all(circular in d.source or "ncertain" in d.source for d in doses)
