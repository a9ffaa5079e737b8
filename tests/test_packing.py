"""Lot and serial recording at pack (PRODUCT.md rules 6–7): domain and the /pack screen.

With "Require Lot/Serial at Pack" on, a lot is required exactly when the item records lots
at pack (``Item.lot_recorded_at_pack``), and a serial per unit for serial items; with it
off nothing is required. A recorded lot that differs from the picked lot never blocks: it
is stored, flagged and the picked-from location goes on the Needs cycle count list.

Packing cannot get ahead of picking: only what was picked (less what is packed) can be
packed, so the tests pick what they pack first (``pick_all``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, packing, picking
from lotline import orders as orders_domain
from lotline import settings as settings_domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Carton, CountRequest, Item, Order, PackLine
from tests.conftest import make_item, make_order, order
from tests.test_flows import Scanner

NOBODY = inventory.Actor(None, "PACK-1")
STOCK = "S-01"  # where pick_all puts the stock a line has nowhere else

# kind -> (item flags, lot recorded at pack when the setting is on, serial required)
KINDS = {
    "track-follow": ({"require_lot": True, "lot_at_pack": "follow"}, True, False),
    "record-always": ({"require_lot": False, "lot_at_pack": "always"}, True, False),
    "track-never": ({"require_lot": True, "lot_at_pack": "never"}, False, False),
    "serial": ({"require_serial": True}, False, True),
    "serial-and-lot": ({"require_serial": True, "require_lot": True}, True, True),
    "plain": ({}, False, False),
}
MATRIX = [(on, kind) for on in (True, False) for kind in KINDS]
MATRIX_IDS = [f"{'on' if on else 'off'}-{kind}" for on, kind in MATRIX]


# ---------------------------------------------------------------- helpers


@pytest.fixture
def wh(app):
    for code in ("A-01", "A-02", "B-01", STOCK):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)  # follow: records a lot at pack when the setting is on
    make_item("PLAIN")
    make_item("SER-1", require_serial=True)
    make_item("SER-2", require_serial=True)
    db.session.commit()


def setting(on: bool):
    settings_domain.set_setting(db.session, settings_domain.REQUIRE_LOT_SERIAL_AT_PACK, on, None)
    db.session.commit()


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def pack(number, sku, qty=1, **kw):
    return packing.pack(db.session, order_number=number, sku=sku, qty=qty, actor=NOBODY, **kw)


def pack_lines():
    db.session.expire_all()
    return list(db.session.scalars(select(PackLine).order_by(PackLine.id)))


def snapshot():
    db.session.expire_all()
    lines = sorted((ln.id, ln.qty_picked, ln.qty_short, ln.qty_packed)
                   for o in db.session.scalars(select(Order)) for ln in o.lines)
    statuses = sorted((o.number, o.status) for o in db.session.scalars(select(Order)))
    cartons = sorted((c.order_id, c.number, c.status, c.weight_grams)
                     for c in db.session.scalars(select(Carton)))
    return lines, statuses, cartons, count(PackLine), count(CountRequest)


def refused(code, fn, *args, **kw):
    before = snapshot()
    with pytest.raises(DomainError) as info:
        fn(*args, **kw)
    assert info.value.code == code
    db.session.rollback()
    assert snapshot() == before, "a refused pack changed something"
    return info.value


def kind_item(kind):
    flags = KINDS[kind][0]
    make_item(f"K-{kind.upper()}", **flags)
    return f"K-{kind.upper()}"


def needs_count_keys():
    db.session.expire_all()
    return {(n.location.code, n.item.sku) for n in inventory.needs_cycle_count(db.session)}


def stock_and_pick(number, location, sku, qty, lot):
    inventory.put(db.session, location=location, sku=sku, lot=lot, qty=qty, actor=NOBODY)
    picking.pick(db.session, order_number=number, location=location, sku=sku, qty=qty,
                 actor=NOBODY)


def pick_all(number, lot="PL-1"):
    """Pick what is left of every line of ``number`` where picking directs; a line with no
    stock anywhere has it put at S-01 first (as lot ``lot`` when the item tracks lots)."""
    while (task := picking.next_task(db.session, order(number))) is not None:
        item = task.line.item
        if task.location is None:
            inventory.put(db.session, location=STOCK, sku=item.sku, qty=task.line.to_pick,
                          lot=lot if item.require_lot else None, actor=NOBODY)
            continue
        assert task.blocked is None, task.blocked
        picking.pick(db.session, order_number=number, location=task.location.code,
                     sku=item.sku, qty=task.qty, actor=NOBODY)


# ---------------------------------------------------------------- the matrix: domain


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_needs_follow_setting_and_item(wh, on, kind):
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    item = db.session.scalar(select(Item).where(Item.sku == sku))
    assert item.lot_recorded_at_pack() is lot_mode
    need = packing.needs(db.session, item)
    assert need.lot is (on and lot_mode)
    assert need.serial is (on and serial_mode)


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_pack_without_records_is_refused_exactly_when_required(wh, on, kind):
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    make_order("SO-1", **{sku: 1})
    pick_all("SO-1")
    if on and lot_mode:
        error = refused("lot_required", pack, "SO-1", sku)
        assert error.details.get("field") == "lot"
    elif on and serial_mode:
        error = refused("serial_required", pack, "SO-1", sku)
        assert error.details.get("field") == "serial"
    else:
        pack("SO-1", sku)
        (line,) = pack_lines()
        assert (line.recorded_lot, line.serial, line.qty) == (None, None, 1)
        assert order("SO-1").status == "packed"


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_pack_with_records_is_always_accepted_and_stored(wh, on, kind):
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    make_order("SO-1", **{sku: 1})
    pick_all("SO-1", lot="LX1")
    if on and lot_mode and serial_mode:  # one without the other is not enough
        refused("serial_required", pack, "SO-1", sku, lot="LX1")
        refused("lot_required", pack, "SO-1", sku, serial="SN-0001")
    pack("SO-1", sku, lot="LX1", serial="SN-0001")
    (line,) = pack_lines()
    assert (line.recorded_lot, line.serial) == ("LX1", "SN-0001")
    # The lot recorded is the lot picked; an item picked without a lot has none to compare.
    assert line.picked_lots == ("LX1" if KINDS[kind][0].get("require_lot") else "")
    assert line.lot_mismatch is False
    assert line.carton.number == 1


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_the_screen_drops_what_the_item_does_not_need_and_records_the_rest(wh, on, kind):
    """The pack screen's confirm (``unneeded="drop"``) keeps a lot or serial only where the
    item needs it now, exactly as its step-by-step walk asks for them; the API records what
    it is given (the test above)."""
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    make_order("SO-1", **{sku: 1})
    pick_all("SO-1", lot="LX1")
    pack("SO-1", sku, lot="LX1", serial="SN-0001", unneeded="drop")
    (line,) = pack_lines()
    assert (line.recorded_lot, line.serial) == ("LX1" if on and lot_mode else None,
                                                "SN-0001" if on and serial_mode else None)
    with pytest.raises(ValueError):
        pack("SO-1", sku, unneeded="ignore")


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_serial_items_pack_one_unit_per_serial(wh, on, kind):
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    make_order("SO-1", **{sku: 2})
    pick_all("SO-1", lot="LX1")
    # A serial is always one unit, whatever the setting.
    refused("validation_error", pack, "SO-1", sku, qty=2, lot="LX1", serial="SN-1")
    if on and serial_mode:
        refused("serial_required", pack, "SO-1", sku, qty=2, lot="LX1")
        pack("SO-1", sku, lot="LX1", serial="SN-1")
        pack("SO-1", sku, lot="LX1", serial="SN-2")
        assert [pl.serial for pl in pack_lines()] == ["SN-1", "SN-2"]
    else:
        pack("SO-1", sku, qty=2, lot="LX1" if lot_mode else None)
        assert [pl.qty for pl in pack_lines()] == [2]
    assert order("SO-1").status == "packed"


# ---------------------------------------------------------------- the matrix: the screen


@pytest.mark.parametrize("on, kind", MATRIX, ids=MATRIX_IDS)
def test_pack_screen_swaps_in_the_lot_step_only_when_required(as_role, wh, on, kind):
    sku = kind_item(kind)
    setting(on)
    _, lot_mode, serial_mode = KINDS[kind]
    make_order("SO-1", **{sku: 1})
    pick_all("SO-1", lot="LS-9")
    s = Scanner(as_role("packer"), "/pack")
    assert s.step == "order"
    s.scan("SO-1")
    assert s.step == "sku" and 'data-testid="pack-panel"' in s.html
    s.scan(sku)
    want_lot = on and lot_mode
    want_serial = on and serial_mode
    expected = "lot" if want_lot else "serial" if want_serial else "qty"
    assert s.step == expected
    assert ('data-step="lot"' in s.html) is want_lot
    if want_lot:
        assert '<label for="scan-lot">Lot</label>' in s.html
        s.scan("")  # Enter on an empty lot field asks again, it does not skip the lot
        assert s.step == "lot" and count(PackLine) == 0
        s.scan("LS-9")
        assert s.step == ("serial" if want_serial else "qty")
        assert 'data-step="lot"' not in s.html
    if want_serial:
        assert '<label for="scan-serial">Serial</label>' in s.html
        s.scan("SN-77")
    else:
        s.scan("1")
    assert s.response.status_code == 200 and s.error_code is None
    assert "Packed 1 × " + sku in s.html
    (line,) = pack_lines()
    assert line.recorded_lot == ("LS-9" if want_lot else None)
    assert line.serial == ("SN-77" if want_serial else None)
    assert order("SO-1").status == "packed"
    assert 'data-testid="pack-complete"' in s.html


# ---------------------------------------------------------------- mismatch never blocks


def test_recorded_lot_differing_from_the_picked_lot_is_stored_and_flagged(wh):
    setting(True)
    make_order("SO-1", LOT_1=2)
    stock_and_pick("SO-1", "A-01", "LOT-1", 2, "L1")
    assert ("A-01", "LOT-1") not in needs_count_keys()

    result = pack("SO-1", "LOT-1", lot="L9")
    (line,) = pack_lines()
    assert (line.recorded_lot, line.picked_lots, line.lot_mismatch) == ("L9", "L1", True)
    assert any(m.startswith("⚠ Lot L9 is not the lot picked (L1)") for m in result.messages)
    request = db.session.scalar(select(CountRequest))
    assert request.location.code == "A-01" and request.item.sku == "LOT-1"
    assert request.resolved_at is None
    assert ("A-01", "LOT-1") in needs_count_keys()
    assert order("SO-1").lines[0].qty_packed == 1  # not blocked


def test_recorded_lot_matching_the_picked_lot_is_not_flagged(wh):
    setting(True)
    make_order("SO-1", LOT_1=2)
    stock_and_pick("SO-1", "A-01", "LOT-1", 2, "L1")
    result = pack("SO-1", "LOT-1", lot="L1", qty=2)
    (line,) = pack_lines()
    assert (line.recorded_lot, line.picked_lots, line.lot_mismatch) == ("L1", "L1", False)
    assert not any(m.startswith("⚠") for m in result.messages)
    assert count(CountRequest) == 0
    assert ("A-01", "LOT-1") not in needs_count_keys()


def test_lot_picked_from_two_locations(wh):
    setting(True)
    make_order("SO-1", LOT_1=4)
    stock_and_pick("SO-1", "A-01", "LOT-1", 2, "L1")
    stock_and_pick("SO-1", "B-01", "LOT-1", 2, "L2")
    pack("SO-1", "LOT-1", lot="L2")  # one of the lots picked: no mismatch
    assert pack_lines()[0].lot_mismatch is False
    assert pack_lines()[0].picked_lots == "L1, L2"
    assert count(CountRequest) == 0
    pack("SO-1", "LOT-1", lot="L3")  # neither: both picked-from locations are in doubt
    assert pack_lines()[1].lot_mismatch is True
    assert {("A-01", "LOT-1"), ("B-01", "LOT-1")} <= needs_count_keys()
    assert count(CountRequest, CountRequest.resolved_at.is_(None)) == 2


def test_a_second_mismatch_does_not_duplicate_the_count_request(wh):
    setting(True)
    make_order("SO-1", LOT_1=2)
    stock_and_pick("SO-1", "A-01", "LOT-1", 2, "L1")
    pack("SO-1", "LOT-1", lot="L8")
    pack("SO-1", "LOT-1", lot="L9")
    assert [pl.lot_mismatch for pl in pack_lines()] == [True, True]
    assert count(CountRequest) == 1


def test_pack_screen_shows_the_picked_lot_and_accepts_a_different_one(as_role, wh):
    setting(True)
    make_order("SO-1", LOT_1=1)
    stock_and_pick("SO-1", "A-01", "LOT-1", 1, "L1")
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1")
    assert s.step == "lot" and "Picked lot L1." in s.html
    s.scan("L9")
    assert s.step == "qty" and s.error_code is None
    s.scan("1")
    assert s.response.status_code == 200 and s.error_code is None
    assert "⚠ Lot L9 is not the lot picked (L1)" in s.html and "warn-line" in s.html
    (line,) = pack_lines()
    assert line.lot_mismatch is True and line.recorded_lot == "L9"
    assert ("A-01", "LOT-1") in needs_count_keys()


# ---------------------------------------------------------------- serials


def test_duplicate_serial_of_the_same_item_is_refused(wh):
    setting(True)
    make_order("SO-1", SER_1=2)
    make_order("SO-2", SER_1=1, SER_2=1)
    pick_all("SO-1")
    pick_all("SO-2")
    pack("SO-1", "SER-1", serial="S-100")
    error = refused("duplicate_serial", pack, "SO-1", "SER-1", serial="S-100")
    assert "Serial S-100 of SER-1 is already packed" in error.message
    refused("duplicate_serial", pack, "SO-2", "SER-1", serial="S-100")  # on any order
    pack("SO-2", "SER-2", serial="S-100")  # the same serial on another item is fine
    assert sorted((pl.item.sku, pl.serial) for pl in pack_lines()) == \
        [("SER-1", "S-100"), ("SER-2", "S-100")]


def test_duplicate_serial_is_refused_even_with_the_setting_off(wh):
    setting(False)
    make_order("SO-1", SER_1=2)
    pick_all("SO-1")
    pack("SO-1", "SER-1", serial="S-1")
    refused("duplicate_serial", pack, "SO-1", "SER-1", serial="S-1")


@pytest.mark.parametrize("serial", ["has space", "x" * 65, "tab\there"])
def test_bad_serial_is_refused(wh, serial):
    setting(True)
    make_order("SO-1", SER_1=1)
    pick_all("SO-1")
    refused("validation_error", pack, "SO-1", "SER-1", serial=serial)


def test_bad_lot_is_refused(wh):
    setting(True)
    make_order("SO-1", LOT_1=1)
    pick_all("SO-1")
    refused("validation_error", pack, "SO-1", "LOT-1", lot="two words")


def test_pack_screen_refuses_a_duplicate_serial_and_asks_again(as_role, wh):
    setting(True)
    make_order("SO-1", SER_1=2)
    pick_all("SO-1")
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("SER-1")
    assert s.step == "serial"
    s.scan("S-1")
    assert "Packed 1 × SER-1 · serial S-1 into carton 1" in s.html
    s.scan("SER-1")
    assert s.step == "serial"
    before = snapshot()
    s.scan("S-1")
    assert s.response.status_code == 422 and s.error_code == "duplicate_serial"
    assert s.step == "serial" and snapshot() == before
    s.scan("S-2")
    assert s.error_code is None and [pl.serial for pl in pack_lines()] == ["S-1", "S-2"]


# ---------------------------------------------------------------- other refusals


def test_over_pack_is_refused(wh):
    make_order("SO-1", PLAIN=2)
    pick_all("SO-1")
    error = refused("over_pack", pack, "SO-1", "PLAIN", qty=3)
    assert "needs 2 more of PLAIN" in error.message
    assert count(Carton) == 0  # a refused first pack opens no carton
    pack("SO-1", "PLAIN", qty=2)
    refused("over_pack", pack, "SO-1", "PLAIN")


def test_over_pack_accounts_for_the_short(wh):
    make_order("SO-1", PLAIN=3)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=1, actor=NOBODY)
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY)
    picking.short_line(db.session, order_number="SO-1", sku="PLAIN", actor=NOBODY)
    refused("over_pack", pack, "SO-1", "PLAIN", qty=2)
    pack("SO-1", "PLAIN")
    assert order("SO-1").status == "packed"


def test_item_not_on_the_order_is_refused(wh):
    make_order("SO-1", PLAIN=2)
    refused("not_on_order", pack, "SO-1", "LOT-1")
    refused("unknown_item", pack, "SO-1", "NO-SUCH")


@pytest.mark.parametrize("qty", [0, -1, "two"])
def test_bad_quantity_is_refused(wh, qty):
    make_order("SO-1", PLAIN=2)
    refused("validation_error", pack, "SO-1", "PLAIN", qty=qty)


def test_cancelled_and_shipped_orders_cannot_be_packed(wh):
    make_order("SO-1", PLAIN=2)
    orders_domain.cancel_order(db.session, order("SO-1"))
    db.session.commit()
    refused("order_closed", pack, "SO-1", "PLAIN")


def test_pack_screen_refuses_an_item_not_on_the_order_and_a_full_line(as_role, wh):
    make_order("SO-1", PLAIN=1)
    pick_all("SO-1")
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1")
    assert s.response.status_code == 422 and s.error_code == "not_on_order"
    assert s.step == "sku"
    s.scan("PLAIN")
    assert s.step == "qty"
    s.scan("2")
    assert s.error_code == "over_pack" and count(PackLine) == 0
    s.scan("1")
    assert s.error_code is None and count(PackLine) == 1
    s.scan("PLAIN")
    assert s.error_code == "over_pack" and count(PackLine) == 1


def test_pack_double_submit_applies_once(wh):
    make_order("SO-1", PLAIN=3)
    pick_all("SO-1")
    first = pack("SO-1", "PLAIN", idempotency_key="pack-key-0001")
    second = pack("SO-1", "PLAIN", idempotency_key="pack-key-0001")
    assert not first.replayed and second.replayed
    assert count(PackLine) == 1 and order("SO-1").lines[0].qty_packed == 1


# ---------------------------------------------------------------- packing follows picking


def shelf(location="A-01", sku="PLAIN"):
    db.session.expire_all()
    return sum(row.qty for row in inventory.query_inventory(db.session, location=location,
                                                            sku=sku))


def pick(number, qty, location="A-01", sku="PLAIN"):
    picking.pick(db.session, order_number=number, location=location, sku=sku, qty=qty,
                 actor=NOBODY)


def test_packing_an_unpicked_unit_is_refused_and_changes_nothing(wh):
    make_order("SO-1", PLAIN=2)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=5, actor=NOBODY)
    error = refused("not_picked", pack, "SO-1", "PLAIN")
    assert error.message == ("Only 0 of 2 PLAIN are picked for order SO-1; pick the rest "
                             "before packing it.")
    assert error.details == {"field": "sku", "picked": 0}
    # Stock on the shelf is not enough: packing never takes it from there.
    assert (count(PackLine), count(Carton)) == (0, 0)
    line = order("SO-1").lines[0]
    assert (line.qty_picked, line.qty_short, line.qty_packed) == (0, 0, 0)
    assert order("SO-1").status == "open" and shelf() == 5
    refused("not_picked", pack, "SO-1", "PLAIN", qty=2, idempotency_key="pack-key-0002")
    pick("SO-1", 2)
    pack("SO-1", "PLAIN", qty=2, idempotency_key="pack-key-0002")  # the key was not spent
    assert order("SO-1").status == "packed" and shelf() == 3


def test_packing_up_to_the_picked_quantity_works(wh):
    make_order("SO-1", PLAIN=5)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=5, actor=NOBODY)
    pick("SO-1", 3)
    error = refused("not_picked", pack, "SO-1", "PLAIN", qty=4)
    assert error.message == ("Only 3 of 5 PLAIN are picked for order SO-1; pick the rest "
                             "before packing it.")
    assert error.details == {"field": "qty", "picked": 3}
    assert count(Carton) == 0

    result = pack("SO-1", "PLAIN", qty=3)
    assert result.messages == ["Packed 3 × PLAIN into carton 1 (3 of 5)"]
    line = order("SO-1").lines[0]
    assert (line.qty_picked, line.qty_packed, order("SO-1").status) == (3, 3, "packing")
    error = refused("not_picked", pack, "SO-1", "PLAIN")
    assert error.details == {"field": "sku", "picked": 3}

    pick("SO-1", 2)
    pack("SO-1", "PLAIN")
    pack("SO-1", "PLAIN")
    assert order("SO-1").status == "packed" and shelf() == 0
    refused("over_pack", pack, "SO-1", "PLAIN")


def test_after_a_short_the_order_completes_packed_with_fewer_units(wh):
    make_order("SO-1", PLAIN=3)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=2, actor=NOBODY)
    pick("SO-1", 2)
    # The third unit is still needed until it is recorded short: it is not picked yet.
    assert refused("not_picked", pack, "SO-1", "PLAIN", qty=3).details["picked"] == 2
    picking.short_line(db.session, order_number="SO-1", sku="PLAIN", actor=NOBODY)
    # Now the order no longer needs it: packing it is an over-pack.
    error = refused("over_pack", pack, "SO-1", "PLAIN", qty=3)
    assert "needs 2 more of PLAIN; this would pack 3" in error.message

    result = pack("SO-1", "PLAIN", qty=2)
    assert result.messages == ["Packed 2 × PLAIN into carton 1 (2 of 2)",
                               "Order SO-1 is completely packed. Scan CMD:CLOSE to close carton 1."]
    line = order("SO-1").lines[0]
    assert (line.qty, line.qty_picked, line.qty_short, line.qty_packed) == (3, 2, 1, 2)
    assert order("SO-1").status == "packed"
    refused("over_pack", pack, "SO-1", "PLAIN")
    packing.close_carton(db.session, order_number="SO-1")
    db.session.commit()
    orders_domain.ship_order(db.session, order("SO-1"))
    db.session.commit()
    assert order("SO-1").status == "shipped"


def test_pack_screen_shows_not_picked_at_the_item_step(as_role, wh):
    make_order("SO-1", PLAIN=2)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=5, actor=NOBODY)
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("PLAIN")
    assert s.response.status_code == 422 and s.error_code == "not_picked"
    assert s.step == "sku"
    assert ("Only 0 of 2 PLAIN are picked for order SO-1; pick the rest before packing it."
            in s.html)
    assert (count(PackLine), count(Carton)) == (0, 0)

    pick("SO-1", 1)
    s.scan("PLAIN")
    assert s.step == "qty" and s.error_code is None
    s.scan("2")  # one of them is still on the shelf
    assert s.response.status_code == 422 and s.error_code == "not_picked"
    assert s.step == "qty" and "Only 1 of 2 PLAIN are picked" in s.html
    assert count(PackLine) == 0
    s.scan("1")
    assert s.error_code is None and "Packed 1 × PLAIN into carton 1 (1 of 2)" in s.html
    s.scan("PLAIN")
    assert s.error_code == "not_picked" and s.step == "sku" and count(PackLine) == 1


def test_replayed_offline_scan_of_an_unpicked_unit_is_refused_as_not_picked(as_role, wh):
    make_order("SO-1", PLAIN=2)
    b = as_role("packer")
    body = {"order": "SO-1", "sku": "PLAIN", "qty": 1, "key": "offline-key-3"}
    response = b.client.post("/pack/replay", json=body, headers={"X-CSRFToken": b.token})
    assert response.status_code == 422 and response.json["code"] == "not_picked"
    assert (count(PackLine), count(Carton)) == (0, 0)


# ---------------------------------------------------------------- the setting changes mid-order


def test_setting_switched_on_while_packing_applies_from_the_next_line(wh):
    setting(False)
    make_order("SO-1", LOT_1=3)
    pick_all("SO-1", lot="L5")
    pack("SO-1", "LOT-1")
    setting(True)
    refused("lot_required", pack, "SO-1", "LOT-1")
    pack("SO-1", "LOT-1", lot="L5")
    assert [pl.recorded_lot for pl in pack_lines()] == [None, "L5"]


def test_setting_switched_off_while_packing_applies_from_the_next_line(wh):
    setting(True)
    make_order("SO-1", LOT_1=2, SER_1=2)
    pick_all("SO-1", lot="L5")
    refused("lot_required", pack, "SO-1", "LOT-1")
    refused("serial_required", pack, "SO-1", "SER-1")
    pack("SO-1", "LOT-1", lot="L5")
    pack("SO-1", "SER-1", serial="S-1")
    setting(False)
    pack("SO-1", "LOT-1")
    pack("SO-1", "SER-1")
    assert [(pl.item.sku, pl.recorded_lot, pl.serial) for pl in pack_lines()] == [
        ("LOT-1", "L5", None), ("SER-1", None, "S-1"), ("LOT-1", None, None),
        ("SER-1", None, None)]
    assert order("SO-1").status == "packed"


def test_pack_screen_follows_the_setting_from_the_next_item_scan(as_role, wh):
    setting(False)
    make_order("SO-1", LOT_1=2)
    pick_all("SO-1", lot="L6")
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1")
    assert s.step == "qty"
    s.scan("1")
    setting(True)
    s.scan("LOT-1")
    assert s.step == "lot"
    s.scan("L6").scan("1")
    assert [pl.recorded_lot for pl in pack_lines()] == [None, "L6"]


# ---------------------------------------------------------------- cartons, slip, ship


def test_cartons_open_close_and_number(wh):
    setting(True)
    make_order("SO-1", LOT_1=2, SER_1=1)
    stock_and_pick("SO-1", "A-01", "LOT-1", 1, "L1")
    stock_and_pick("SO-1", "B-01", "LOT-1", 1, "L2")
    pick_all("SO-1")
    pack("SO-1", "LOT-1", lot="L1")
    (carton,) = order("SO-1").cartons
    assert (carton.number, carton.status, carton.station) == (1, "open", "PACK-1")
    assert order("SO-1").status == "packing"

    for bad in ("abc", "0", "-5", "1000001", "1.5"):
        refused("validation_error", packing.close_carton, db.session, order_number="SO-1",
                weight_grams=bad)
    assert order("SO-1").cartons[0].status == "open"

    packing.close_carton(db.session, order_number="SO-1", weight_grams="1200")
    db.session.commit()
    carton = order("SO-1").cartons[0]
    assert (carton.status, carton.weight_grams) == ("closed", 1200)
    assert carton.closed_at is not None
    refused("no_open_carton", packing.close_carton, db.session, order_number="SO-1")

    pack("SO-1", "LOT-1", lot="L2")
    pack("SO-1", "SER-1", serial="S-1")
    cartons = order("SO-1").cartons
    assert [(c.number, c.status) for c in cartons] == [(1, "closed"), (2, "open")]
    assert [pl.recorded_lot for pl in cartons[0].lines] == ["L1"]
    assert [(pl.recorded_lot, pl.serial) for pl in cartons[1].lines] == [("L2", None),
                                                                        (None, "S-1")]
    assert order("SO-1").status == "packed"

    packing.close_carton(db.session, order_number="SO-1")  # the weight is optional
    db.session.commit()
    carton = order("SO-1").cartons[1]
    assert carton.status == "closed" and carton.weight_grams is None


def test_an_empty_carton_cannot_be_closed(wh):
    make_order("SO-1", PLAIN=1)
    packing.open_carton(db.session, order("SO-1"))
    db.session.commit()
    error = refused("carton_empty", packing.close_carton, db.session, order_number="SO-1")
    assert "Carton 1 is empty" in error.message


def test_order_is_packed_only_when_every_line_is_packed(wh):
    make_order("SO-1", PLAIN=2, SER_1=1)
    assert order("SO-1").status == "open"
    pick_all("SO-1")
    assert order("SO-1").status == "picked"
    pack("SO-1", "PLAIN", qty=2)
    assert order("SO-1").status == "packing"
    result = pack("SO-1", "SER-1")
    assert order("SO-1").status == "packed"
    assert "Order SO-1 is completely packed. Scan CMD:CLOSE to close carton 1." in result.messages


def test_pack_screen_closes_the_carton(as_role, wh):
    make_order("SO-1", PLAIN=2)
    pick_all("SO-1")
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1")
    assert "no carton open" in s.html and "CMD:CLOSE" not in s.html
    s.scan("CMD:CLOSE")  # no carton yet: the command does nothing here, and says so
    assert s.error_code == "command_not_here" and s.step == "sku"
    s.scan("PLAIN").scan("1")
    assert "carton 1 open" in s.html and 'name="cmd" value="CMD:CLOSE"' in s.html
    s.scan("CMD:CLOSE", weight="heavy")
    assert s.response.status_code == 422 and s.error_code == "validation_error"
    assert order("SO-1").cartons[0].status == "open"
    s.scan("CMD:CLOSE", weight="850")
    assert s.error_code is None and "Carton 1 closed." in s.html and s.step == "sku"
    assert (order("SO-1").cartons[0].status, order("SO-1").cartons[0].weight_grams) == \
        ("closed", 850)
    s.scan("PLAIN").scan("1")
    assert [c.number for c in order("SO-1").cartons] == [1, 2]
    # The last unit: the screen says so in its prompt and asks for CMD:CLOSE.
    assert s.step == "sku" and "Order SO-1 is complete. Scan CMD:CLOSE to close carton 2" in s.html
    assert 'data-testid="pack-complete"' in s.html and "/pack/SO-1/slip" in s.html
    s.scan("CMD:CLOSE")  # then it asks for the next order
    assert s.error_code is None and s.step == "order" and "order" not in s.fields
    assert "Order SO-1 is packed: print its packing slip." in s.html
    assert 'data-testid="pack-complete"' in s.html  # the order just closed, still shown
    assert [c.status for c in order("SO-1").cartons] == ["closed", "closed"]
    assert order("SO-1").packing_station is None


def test_packing_slip_lists_lots_and_serials_per_carton(as_role, wh):
    setting(True)
    make_order("SO-1", LOT_1=1, SER_1=1, PLAIN=1)
    pick_all("SO-1", lot="LOT-A1")
    pack("SO-1", "LOT-1", lot="LOT-A1")
    packing.close_carton(db.session, order_number="SO-1", weight_grams="500")
    db.session.commit()
    pack("SO-1", "SER-1", serial="SER-XYZ")
    pack("SO-1", "PLAIN")
    page = as_role("packer").get("/pack/so-1/slip")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Packing slip · Order SO-1" in html
    first, second = html.split("<h2>Carton 2")
    first = first.split("<h2>Carton 1")[1]
    assert "500 g" in first and "LOT-A1" in first and "SER-XYZ" not in first
    assert "SER-XYZ" in second and "PLAIN" in second and "LOT-A1" not in second
    assert as_role("supervisor", "sup2").get("/pack/NOPE/slip").status_code == 404


def test_ship_only_when_packed_and_every_carton_closed(wh):
    make_order("SO-1", PLAIN=2)
    refused("order_not_packed", orders_domain.ship_order, db.session, order("SO-1"))
    pick_all("SO-1")
    refused("order_not_packed", orders_domain.ship_order, db.session, order("SO-1"))
    pack("SO-1", "PLAIN")
    refused("order_not_packed", orders_domain.ship_order, db.session, order("SO-1"))
    pack("SO-1", "PLAIN")
    assert order("SO-1").status == "packed"
    refused("carton_open", orders_domain.ship_order, db.session, order("SO-1"))
    packing.close_carton(db.session, order_number="SO-1")
    db.session.commit()
    orders_domain.ship_order(db.session, order("SO-1"))
    db.session.commit()
    assert order("SO-1").status == "shipped" and order("SO-1").shipped_at is not None
    refused("order_closed", pack, "SO-1", "PLAIN")


# ---------------------------------------------------------------- offline replay endpoint

def test_replayed_offline_scan_applies_once_and_refusals_come_back_as_json(as_role, app):
    from lotline import inventory as inv_domain
    from lotline import locations as loc_domain
    from lotline import orders as ord_domain

    loc_domain.create_location(db.session, "R-01")
    make_item("RPL-1", require_lot=True)
    inv_domain.put(db.session, location="R-01", sku="RPL-1", lot="RL", qty=5,
                   actor=inv_domain.Actor(None))
    ord_domain.create_order(db.session, "SO-R", "Acme", [{"sku": "RPL-1", "qty": 2}])
    db.session.commit()
    pick_all("SO-R")
    b = as_role("packer")
    body = {"order": "SO-R", "sku": "RPL-1", "qty": 1, "lot": "RL", "key": "offline-key-1"}
    headers = {"X-CSRFToken": b.token}
    first = b.client.post("/pack/replay", json=body, headers=headers)
    again = b.client.post("/pack/replay", json=body, headers=headers)
    assert first.json["ok"] and not first.json["replayed"] and again.json["replayed"]
    assert db.session.scalar(select(func.count()).select_from(PackLine)) == 1
    over = b.client.post("/pack/replay", json={**body, "qty": 5, "key": "offline-key-2"},
                         headers=headers)
    assert over.status_code == 422 and over.json["code"] == "over_pack"
    bad = b.client.post("/pack/replay", json={"order": "SO-R", "evil": 1}, headers=headers)
    assert bad.status_code == 422
    no_csrf = b.client.post("/pack/replay", json=body)
    assert no_csrf.status_code == 400


# ---------------------------------------------------------------- the panel after a pack


def test_after_a_replayed_pack_the_screen_reads_its_panel(wh, as_role):
    make_order("SO-1", PLAIN=2)
    pick_all("SO-1")
    pack("SO-1", "PLAIN", idempotency_key="key-000001")
    again = pack("SO-1", "PLAIN", idempotency_key="key-000001")
    assert again.replayed
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("PLAIN").scan("1")
    assert 'data-col="packed">2 / 2' in s.html
