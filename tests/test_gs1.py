"""GS1-128 / DataMatrix scans: parsing, and one scan filling item, lot, expiry, serial, qty."""

import datetime as dt

import pytest
from sqlalchemy import select

from lotline import gs1, inventory, locations, orders, picking, settings
from lotline.errors import ValidationError
from lotline.extensions import db
from lotline.gtin import check_digit
from lotline.models import Lot, PackLine
from tests.conftest import make_item
from tests.test_flows import Scanner

GS = "\x1d"
GTIN = "09876543210982"


@pytest.mark.parametrize("raw, expected", [
    # GS1-128 with symbology identifier and FNC1 (GS) after the variable-length lot
    ("]C101" + GTIN + "10ABC123" + GS + "17261231",
     gs1.Gs1Scan(GTIN, "ABC123", dt.date(2026, 12, 31))),
    # GS1 DataMatrix, expiry first, lot last (no separator needed at the end)
    ("]d201" + GTIN + "17270630" + "10L-77", gs1.Gs1Scan(GTIN, "L-77", dt.date(2027, 6, 30))),
    # no symbology prefix, GS separators, serial and count
    ("01" + GTIN + "21SN-0042" + GS + "3712", gs1.Gs1Scan(GTIN, serial="SN-0042", qty=12)),
    # human-readable form
    (f"(01){GTIN}(10)ABC(17)261200(21)S9(30)5",
     gs1.Gs1Scan(GTIN, "ABC", dt.date(2026, 12, 31), "S9", 5)),  # day 00: month's end
    # AI 02 (contained trade item) and a scanner that sends FNC1 as '~'
    ("]C102" + GTIN + "37" + "24" + "~10LOTX", gs1.Gs1Scan(GTIN, "LOTX", qty=24)),
    ("(17)281015", gs1.Gs1Scan(expiry=dt.date(2028, 10, 15))),
    ("0110614141000415", gs1.Gs1Scan("10614141000415")),
    # GS1 Digital Link URIs (a QR code on the pack): any host, a path prefix, query AIs
    (f"https://id.gs1.org/01/{GTIN}/10/ABC123?17=261231",
     gs1.Gs1Scan(GTIN, "ABC123", dt.date(2026, 12, 31))),
    (f"https://example.com/shop/01/{GTIN[1:]}/21/SN-0042?30=5",
     gs1.Gs1Scan(GTIN, serial="SN-0042", qty=5)),
    (f"HTTPS://ID.GS1.ORG/01/{GTIN}/10/L9", gs1.Gs1Scan(GTIN, "L9")),
])
def test_real_world_gs1_strings(raw, expected):
    assert gs1.parse(raw) == expected


@pytest.mark.parametrize("raw", ["VIT-C-500", "4006381333931", "A-01-01", "L1", "PO-1001",
                                 "10614141000415", "CMD:CONFIRM", "https://example.com/01",
                                 "https://example.com/page?01=1"])
def test_plain_scans_are_not_gs1(raw):
    assert gs1.parse(raw) is None


@pytest.mark.parametrize("raw, words", [
    ("]C101" + GTIN[:-1] + "3", "wrong check digit"),
    ("]C101" + GTIN + "17261332", "could not be read"),
    ("(01)0987654321098", "could not be read"),
    ("]C101" + GTIN + "3700", "at least 1"),
    ("]C130", "not a number"),  # found by hypothesis: an AI 30 with no digits after it
    ("]C101" + GTIN + "30", "not a number"),
    (f"https://id.gs1.org/01/{GTIN}/10", "could not be read"),  # a lot with no value
])
def test_bad_gs1_is_refused_clearly(raw, words):
    with pytest.raises(ValidationError) as exc:
        gs1.parse(raw)
    assert words in exc.value.message


@pytest.fixture
def wh(app):
    locations.create_location(db.session, "A-01")
    body = "0540000000001"
    gtin = body + str(check_digit(body))
    make_item("LOT-1", require_lot=True, gtin=gtin, min_shelf_life_days=90)
    make_item("OTHER", gtin="4006381333931")
    db.session.commit()
    return gtin.zfill(14)


def test_one_gs1_scan_fills_item_lot_expiry_and_quantity_on_put(as_role, wh):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan(f"]C101{wh}10G1{GS}17301231{GS}306")
    assert s.error_code is None and "A-01 · LOT-1 · G1: 0 → 6" in s.html
    assert db.session.scalar(select(Lot.expiry).where(Lot.number == "G1")) == \
        dt.date(2030, 12, 31)


def test_lot_and_expiry_in_two_scans_are_joined(as_role, wh):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan(wh)
    assert s.step == "lot"
    s.scan("(17)301130")           # the expiry label first: still asks for the lot
    assert s.step == "lot" and s.fields.get("expiry") == "2030-11-30"
    s.scan("(10)G2").scan("1")
    assert "LOT-1 · G2: 0 → 1" in s.html
    assert db.session.scalar(select(Lot.expiry).where(Lot.number == "G2")) == \
        dt.date(2030, 11, 30)


def test_a_label_for_another_item_is_refused(as_role, wh):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan("LOT-1").scan(f"(01){'4006381333931'.zfill(14)}(10)X1")
    assert s.error_code == "gtin_mismatch" and s.step == "lot"
    assert "This label is for OTHER, not LOT-1" in s.html


def test_a_bad_check_digit_is_refused_at_the_step(as_role, wh):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan(f"]C101{wh[:-1]}{(int(wh[-1]) + 1) % 10}10G1")
    assert s.error_code == "validation_error" and "wrong check digit" in s.html
    assert s.step == "sku"


@pytest.fixture
def order(wh):
    """SO-1, picked (lot G1 from A-01) and ready to pack with recording on."""
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="G1", qty=10,
                  actor=inventory.Actor(None), expiry=dt.date.today() + dt.timedelta(days=400))
    orders.create_order(db.session, "SO-1", "Acme", [{"sku": "LOT-1", "qty": 4}])
    db.session.commit()
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="LOT-1", qty=4,
                 actor=inventory.Actor(None))
    settings.set_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK, True, None)
    db.session.commit()


def test_one_gs1_scan_fills_item_and_lot_at_pack(as_role, order, wh):
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan(f"]d201{wh}10G1")
    assert s.step == "qty" and s.error_code is None
    s.scan("2")
    line = db.session.scalar(select(PackLine))
    assert (line.recorded_lot, line.qty) == ("G1", 2)


def test_pack_refuses_a_lot_expiring_inside_the_shelf_life(as_role, order, wh):
    soon = dt.date.today() + dt.timedelta(days=30)
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan(f"]C101{wh}17{soon:%y%m%d}10G9{GS}301")
    assert s.error_code == "shelf_life_too_short"
    assert f"expires {soon:%Y-%m-%d}" in s.html and "90 days" in s.html
    assert db.session.scalar(select(PackLine)) is None


def test_pack_uses_the_lots_recorded_expiry(as_role, order, wh):
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="G1", qty=1,
                  actor=inventory.Actor(None))
    lot = db.session.scalar(select(Lot).where(Lot.number == "G1"))
    lot.expiry = dt.date.today() + dt.timedelta(days=10)
    db.session.commit()
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1").scan("G1").scan("1")
    assert s.error_code == "shelf_life_too_short" and s.step == "lot"
