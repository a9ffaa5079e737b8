"""Every export goes through one CSV writer (blueprints/csv_export.py): formula-safe cells,
numbers kept as numbers, safe download names."""

from __future__ import annotations

import csv
import io

import pytest

from blueprints.csv_export import cell, safe_filename
from lotline import inventory, locations, orders, packing, picking
from lotline.extensions import db
from tests.conftest import make_item

ACTOR = inventory.Actor(None, "CSV")


@pytest.mark.parametrize("value, shown", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("L1", "L1"), (None, ""), (-3, -3), (4, 4),
])
def test_cells_never_run_as_formulas(value, shown):
    assert cell(value) == shown


@pytest.mark.parametrize("stem, name", [
    ('recall-a"b;c\r\nSet-Cookie: x', "recall-a-b-c-Set-Cookie-x.csv"),
    ("../../etc/passwd", "etc-passwd.csv"), ("", "export.csv"),
    ("ledger-20261206", "ledger-20261206.csv"),
])
def test_download_names_hold_only_safe_characters(stem, name):
    assert safe_filename(stem) == name


def test_the_recall_export_is_formula_safe_with_a_safe_name(as_role):
    locations.create_location(db.session, "A-01")
    make_item("LOT-1", require_lot=True)
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="-2+3", qty=5, actor=ACTOR)
    orders.create_order(db.session, "SO-1", '=HYPERLINK("http://x")', [{"sku": "LOT-1",
                                                                        "qty": 1}],
                        customer_ref="@ref")
    db.session.commit()
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="LOT-1", qty=1,
                 actor=ACTOR)
    packing.pack(db.session, order_number="SO-1", sku="LOT-1", qty=1, lot="-2+3", actor=ACTOR)
    response = as_role("supervisor").get("/lots/recall.csv?lot=-2%2B3&sku=LOT-1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="recall--2-3.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    shipped = [r for r in rows if r[1] == "shipped to customer"]
    assert shipped and shipped[0][0] == "'-2+3"
    assert shipped[0][2] == "'=HYPERLINK(\"http://x\")" and shipped[0][3] == "'@ref"
    assert all(not c.startswith(("=", "+", "-", "@")) for r in rows for c in r)
