"""``immreg stock ...``: scan a barcode, stock on hand, the monthly report, a recall.

* ``immreg stock scan TEXT [--db URL] [--as-of DATE]``: parse a GS1 barcode (raw, printed
  or Digital Link) and print its GTIN, lot and expiry as JSON; with ``--db``, also resolve
  it against the catalogue as the point-of-care check does.
* ``immreg stock on-hand URL ORG_UNIT [--on DATE] [--product CODE]``: on hand by lot, for
  the unit and every unit below it (each rolled up).
* ``immreg stock report URL FACILITY --month YYYY-MM [--rollup] [--json]``: the monthly
  stock report per product.
* ``immreg stock recall URL PRODUCT LOT``: doses, people, holdings and shipments of a lot
  (JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

__all__ = ["add_stock_commands"]


def _today(args: argparse.Namespace, name: str) -> dt.date:
    value = getattr(args, name)
    if value:
        return dt.date.fromisoformat(value)
    from immreg.services import SystemClock

    return SystemClock().today()


def _scan(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.stock.gs1 import parse_scan, resolve_scan

    scan = parse_scan(args.text)
    result: dict[str, Any] = {
        "gtin": scan.gtin,
        "lot_number": scan.lot_number,
        "expiry": scan.expiry.isoformat() if scan.expiry else None,
        "serial": scan.serial,
    }
    if args.db:
        from immreg.backends import open_backend

        backend = open_backend(args.db)
        try:
            with backend.unit_of_work() as uow:
                vial = resolve_scan(uow, args.text, as_of=_today(args, "as_of"))
            result["product_code"] = vial.product.code
            result["product_name"] = vial.product.name
        finally:
            backend.close()
    print(json.dumps(result, ensure_ascii=False), file=out)
    return 0


def _on_hand(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend
    from immreg.stock.reports import on_hand

    backend = open_backend(args.url)
    try:
        with backend.unit_of_work() as uow:
            held = on_hand(uow, args.org_unit, on=_today(args, "on"), product_code=args.product)
    finally:
        backend.close()
    print(f"{'org unit':<20} {'product':<12} {'lot':<20} {'doses':>9}", file=out)
    for unit, lots in held.items():
        for (product, lot), n in sorted(lots.items()):
            print(f"{unit:<20} {product:<12} {lot:<20} {n:>9}", file=out)
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend
    from immreg.stock.reports import monthly_report

    month = dt.date.fromisoformat(f"{args.month}-01")
    backend = open_backend(args.url)
    try:
        with backend.unit_of_work() as uow:
            reports = monthly_report(uow, args.facility, month=month, rollup=args.rollup)
    finally:
        backend.close()
    columns = ("opening", "received", "issued", "administered", "wasted", "adjusted", "closing")
    if args.json:
        for product, r in reports.items():
            row: dict[str, Any] = {"facility_id": r.facility_id, "product_code": product}
            row.update({c: getattr(r, c) for c in columns})
            row["wasted_by_reason"] = {k.value: v for k, v in r.wasted_by_reason.items()}
            row["wastage_rate"] = round(r.wastage_rate, 4)
            print(json.dumps(row, ensure_ascii=False), file=out)
        return 0
    print(f"{'product':<12}" + "".join(f"{c:>13}" for c in columns), file=out)
    for product, r in reports.items():
        print(f"{product:<12}" + "".join(f"{getattr(r, c):>13}" for c in columns), file=out)
    return 0


def _recall(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend
    from immreg.stock.recall import recall

    backend = open_backend(args.url)
    try:
        with backend.unit_of_work() as uow:
            r = recall(uow, args.product, args.lot)
    finally:
        backend.close()
    result = {
        "product_code": r.product_code,
        "lot_number": r.lot_number,
        "dose_ids": list(r.dose_ids),
        "subject_ids": list(r.subject_ids),
        "holdings": [{"facility_id": b.facility_id, "doses": b.quantity} for b in r.holdings],
        "in_transit": [
            {"transfer_id": s.transfer_id, "to": s.destination_id, "doses": s.in_transit}
            for s in r.in_transit
        ],
    }
    print(json.dumps(result, ensure_ascii=False), file=out)
    return 0


def add_stock_commands(sub: Any) -> None:
    """Add ``immreg stock ...`` to the ``immreg`` command's subparsers."""
    stock = sub.add_parser("stock", help="vaccine stock: scans, on hand, reports, recall")
    stock_sub = stock.add_subparsers(dest="stock_command", required=True)

    scan = stock_sub.add_parser("scan", help="parse a GS1 barcode scan")
    scan.add_argument("text", help="the scanned text (raw, (01)... or a Digital Link URL)")
    scan.add_argument("--db", help="resolve against this registry's catalogue")
    scan.add_argument("--as-of", dest="as_of", help="judge expiry on this date (YYYY-MM-DD)")
    scan.set_defaults(func=_scan)

    held = stock_sub.add_parser("on-hand", help="on hand by lot, rolled up the tree")
    held.add_argument("url", help="registry database URL")
    held.add_argument("org_unit", help="the org unit at the top")
    held.add_argument("--on", help="tree as on this date (YYYY-MM-DD)")
    held.add_argument("--product", help="one product only")
    held.set_defaults(func=_on_hand)

    report = stock_sub.add_parser("report", help="the monthly stock report")
    report.add_argument("url", help="registry database URL")
    report.add_argument("facility", help="the facility (or subtree root with --rollup)")
    report.add_argument("--month", required=True, help="YYYY-MM")
    report.add_argument("--rollup", action="store_true", help="sum the whole subtree")
    report.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    report.set_defaults(func=_report)

    rec = stock_sub.add_parser("recall", help="everything a lot touched")
    rec.add_argument("url", help="registry database URL")
    rec.add_argument("product", help="product code")
    rec.add_argument("lot", help="lot number")
    rec.set_defaults(func=_recall)
