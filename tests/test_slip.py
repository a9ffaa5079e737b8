"""The packing slip: one row per (carton, item, lot) with its quantity and its serials."""

import re

import pytest

from lotline import packing, slip
from lotline.errors import NotFound
from lotline.extensions import db
from tests.conftest import make_order
from tests.test_packing import pack, pick_all, setting, wh  # noqa: F401  (wh: the fixture)


def packed_two_cartons():
    """SO-1 packed a unit per scan, as a station does: carton 1 holds PLAIN ×3, LOT-1 of
    lots L1, L2, L1 and SER-1 ×2; carton 2 one more PLAIN."""
    setting(True)
    make_order("SO-1", PLAIN=4, LOT_1=3, SER_1=2)
    pick_all("SO-1", lot="L1")
    for _ in range(3):
        pack("SO-1", "PLAIN")
    for lot in ("L1", "L2", "L1"):
        pack("SO-1", "LOT-1", lot=lot)
    pack("SO-1", "SER-1", serial="S-2")
    pack("SO-1", "SER-1", serial="S-1")
    packing.close_carton(db.session, order_number="SO-1", weight_grams="900")
    db.session.commit()
    pack("SO-1", "PLAIN")


def test_identical_units_are_one_row_per_item_and_lot_with_their_serials(wh):  # noqa: F811
    packed_two_cartons()
    order, cartons = slip.packing_slip(db.session, "so-1")
    assert order.number == "SO-1"
    assert [(c.number, c.weight_grams) for c in cartons] == [(1, 900), (2, None)]
    assert [(r.sku, r.lot, r.qty, r.serials) for r in cartons[0].rows] == [
        ("PLAIN", None, 3, ()),
        ("LOT-1", "L1", 2, ()),
        ("LOT-1", "L2", 1, ()),
        ("SER-1", None, 2, ("S-2", "S-1")),  # in the order they were packed
    ]
    assert [(r.sku, r.qty) for r in cartons[1].rows] == [("PLAIN", 1)]
    # every unit packed is on the slip once
    assert sum(r.qty for c in cartons for r in c.rows) == 4 + 3 + 2


def test_an_unknown_order_has_no_slip(wh):  # noqa: F811
    with pytest.raises(NotFound):
        slip.packing_slip(db.session, "NOPE")


def test_the_slip_page_shows_one_row_per_item_and_lot(as_role, wh):  # noqa: F811
    packed_two_cartons()
    html = as_role("packer").get("/pack/SO-1/slip").get_data(as_text=True)
    first, second = html.split("<h2>Carton 2")
    rows = [re.findall(r"<td>([^<]*)</td>", row)
            for row in re.findall(r"<tr><td>.*?</tr>", first)]
    assert [[r[0], r[2], r[3], r[4]] for r in rows] == [
        ["PLAIN", "3", "", ""], ["LOT-1", "2", "L1", ""], ["LOT-1", "1", "L2", ""],
        ["SER-1", "2", "", "S-2, S-1"]]
    assert "900 g" in first and '<th scope="col">Serials</th>' in first
    assert len(re.findall(r"<tr><td>", second)) == 1 and "<td>PLAIN</td>" in second
