"""Scanner commands in the scan engine (SCAN-UX.md: every action reachable by scan), the
pack station moving on from order to order, and the reserved CMD: prefix."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, orders, pack_station
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Carton, LedgerEntry, Order, PackLine
from tests.conftest import Browser, make_item, make_order, make_user, order
from tests.test_concurrency import run_stations
from tests.test_flows import Scanner
from tests.test_packing import NOBODY, pick_all


@pytest.fixture
def wh(app):
    for code in ("A-01", "A-02", "S-01"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN")
    db.session.commit()


def stock(code, sku, qty, lot=None):
    inventory.put(db.session, location=code, sku=sku, lot=lot, qty=qty, actor=NOBODY)


def ledger_rows() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def picked_orders(*numbers, qty=2):
    for number in numbers:
        make_order(number, PLAIN=qty)
        pick_all(number)


def station(app, name, user="packer1"):
    """A signed-in pack screen at the device named ``name`` (a device of its own)."""
    make_user(user, "packer")
    browser = Browser(app.test_client())
    assert browser.login(user).status_code == 302
    browser.client.set_cookie("lotline_station", name)
    return Scanner(browser, "/pack")


# ---------------------------------------------------------------- every flow


@pytest.mark.parametrize("url, steps", [
    ("/put", ["A-01", "PLAIN"]),
    ("/pull", ["A-01", "PLAIN"]),
    ("/move", ["A-01", "PLAIN"]),
    ("/count", ["A-01", "PLAIN"]),
])
def test_a_quantity_error_then_cancel_by_scan_starts_over_and_changes_nothing(
        as_role, wh, url, steps):
    stock("A-01", "PLAIN", 5)
    before = ledger_rows()
    s = Scanner(as_role("packer"), url)
    for value in steps:
        s.scan(value)
    assert s.step == "qty"
    s.scan("abc")
    assert s.error_code == "validation_error" and s.step == "qty"
    s.scan(" cmd:cancel ")  # as a scanner set to lower case, with its spaces, sends it
    assert s.error_code is None and s.step == s.fields.get("step") and "sku" not in s.fields
    assert s.step in ("location", "from_location")
    assert ledger_rows() == before


def test_confirm_by_scan_takes_the_quantity_shown_and_the_item_again_adds_one(as_role, wh):
    stock("A-01", "PLAIN", 5)
    s = Scanner(as_role("packer"), "/pull")
    s.scan("A-01").scan("PLAIN").scan("PLAIN").scan("PLAIN")
    assert s.step == "qty" and s.fields["qty_pending"] == "3" and 'value="3"' in s.html
    s.scan("CMD:CONFIRM")
    assert "A-01 · PLAIN: 5 → 2" in s.html


@pytest.mark.parametrize("text, code", [("CMD:CONFIRM", "command_not_here"),
                                        ("CMD:CLOSE", "command_not_here"),
                                        ("CMD:NOPE", "unknown_command")])
def test_a_command_that_does_not_apply_says_so_and_changes_nothing(as_role, wh, text, code):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01")
    before = ledger_rows()
    s.scan(text)
    assert s.response.status_code == 422 and s.error_code == code and s.step == "sku"
    assert "Scan the item." in s.html  # what to do instead
    assert s.fields.get("location") == "A-01"  # what was accepted stays
    assert ledger_rows() == before


def test_the_station_is_set_by_scan_at_any_step(as_role, wh):
    browser = as_role("packer")
    s = Scanner(browser, "/put")
    s.scan("A-01").scan("CMD:STATION:PACK-09")
    assert s.error_code is None and "This device is station PACK-09." in s.html
    assert s.step == "sku" and s.fields.get("location") == "A-01"
    assert "lotline_station=PACK-09" in s.response.headers["Set-Cookie"]
    assert 'id="station-link"' in s.html and "Station PACK-09</a>" in s.html  # the header
    s.scan("PLAIN").scan("4")
    db.session.rollback()
    assert db.session.scalar(select(LedgerEntry.station).order_by(LedgerEntry.id.desc())
                             .limit(1)) == "PACK-09"
    s.scan("CMD:STATION:bad*name")
    assert s.error_code == "validation_error" and "Set-Cookie" not in s.response.headers


# ---------------------------------------------------------------- pack moves on


def test_cmd_next_opens_the_oldest_picked_order_no_other_station_has(app, wh):
    picked_orders("SO-1", "SO-2")
    make_order("SO-3", PLAIN=1)  # not picked: never offered to pack
    one = station(app, "PACK-1", "packer1")
    two = station(app, "PACK-2", "packer2")
    one.scan("CMD:NEXT")
    assert one.error_code is None and one.fields["order"] == "SO-1" and one.step == "sku"
    two.scan("CMD:NEXT")
    assert two.fields["order"] == "SO-2"
    assert (order("SO-1").packing_station, order("SO-2").packing_station) == \
        ("PACK-1", "PACK-2")
    three = station(app, "PACK-3", "packer3")
    three.scan("CMD:NEXT")
    assert three.error_code == "no_orders_to_pack" and three.step == "order"


def test_two_stations_asking_at_once_get_two_orders(app, wh):
    picked_orders("SO-1", "SO-2", "SO-3")
    got: dict[int, str] = {}
    barrier = threading.Barrier(2)

    def ask(n):
        barrier.wait(timeout=30)
        got[n] = pack_station.next_order_to_pack(db.session, inventory.Actor(None, f"PACK-{n}"))

    for _ in range(3):  # three rounds: each pair of stations takes two of what is left
        run_stations(app, 2, ask)
        assert got[0] != got[1], got
        db.session.rollback()
        orders_open = dict(db.session.execute(select(Order.number, Order.packing_station)).all())
        assert orders_open[got[0]] == "PACK-0" and orders_open[got[1]] == "PACK-1"
        db.session.execute(Order.__table__.update().values(packing_station=None))
        db.session.commit()


def test_the_order_scanned_by_hand_is_not_offered_to_another_station(app, wh):
    picked_orders("SO-1", "SO-2")
    one = station(app, "PACK-1", "packer1")
    one.scan("SO-1")
    two = station(app, "PACK-2", "packer2")
    two.scan("CMD:NEXT")
    assert two.fields["order"] == "SO-2"


def test_an_order_scanned_at_the_item_step_opens_it_when_nothing_is_packed(app, wh):
    picked_orders("SO-1", "SO-2")
    s = station(app, "PACK-1")
    s.scan("SO-1")
    s.scan("SO-2")
    assert s.error_code is None and s.fields["order"] == "SO-2" and s.step == "sku"
    assert order("SO-1").packing_station is None
    assert order("SO-2").packing_station == "PACK-1"


def test_an_order_scanned_mid_order_says_what_to_do(app, wh):
    picked_orders("SO-1", "SO-2")
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN").scan("1")
    s.scan("SO-2")
    assert s.error_code == "order_in_progress" and s.fields["order"] == "SO-1"
    assert "Order SO-1 is not finished: 1 of 2 packed" in s.html and "CMD:CANCEL" in s.html
    s.scan("CMD:NEXT")
    assert s.error_code == "order_in_progress" and s.fields["order"] == "SO-1"
    s.scan("CMD:CANCEL")  # leaves the order (its open carton stays for later)
    assert s.step == "order" and "order" not in s.fields
    assert order("SO-1").packing_station is None
    s.scan("SO-2")
    assert s.fields["order"] == "SO-2"


def test_a_complete_order_asks_for_close_before_the_next(app, wh):
    picked_orders("SO-1", "SO-2", qty=1)
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN").scan("1")
    assert "Order SO-1 is complete. Scan CMD:CLOSE to close carton 1" in s.html
    s.scan("SO-2")
    assert s.error_code == "carton_open" and "scan CMD:CLOSE to close carton 1 first" in s.html
    s.scan("CMD:CLOSE")
    assert s.step == "order"
    s.scan("SO-1")  # packed and closed: nothing left to do with it here
    assert s.error_code == "order_packed" and s.step == "order"
    s.scan("CMD:NEXT")
    assert s.fields["order"] == "SO-2"
    s.scan("PLAIN").scan("1").scan("CMD:CLOSE")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Carton)
                             .where(Carton.status == "open")) == 0
    assert {o.number: o.status for o in db.session.scalars(select(Order))} == \
        {"SO-1": "packed", "SO-2": "packed"}
    for number in ("SO-1", "SO-2"):
        orders.ship_order(db.session, order(number))  # an order with no open carton ships
    db.session.commit()


def test_cancel_inside_a_pack_line_keeps_the_order(app, wh):
    picked_orders("SO-1")
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN")
    assert s.step == "qty"
    s.scan("CMD:CANCEL")
    assert s.step == "sku" and s.fields["order"] == "SO-1"
    assert db.session.scalar(select(func.count()).select_from(PackLine)) == 0


# ---------------------------------------------------------------- pick by scan


def test_skip_and_short_by_scan(as_role, wh):
    stock("A-01", "PLAIN", 5)
    stock("A-02", "PLAIN", 5)
    make_order("SO-1", PLAIN=4)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("CMD:NEXT")
    assert s.fields["order"] == "SO-1" and "Go to A-01" in s.html
    s.scan("CMD:SKIP")
    assert "Go to A-02" in s.html and s.step == "location"
    s.scan("A-02").scan("PLAIN")
    s.scan("CMD:SHORT")
    assert s.step == "qty" and "Found fewer" in s.html
    s.scan("3")  # typed over the prefilled number
    assert s.error_code is None
    assert "Short at A-02: found 3 of 4." in s.html
    assert order("SO-1").lines[0].qty_picked == 3


# ---------------------------------------------------------------- the reserved prefix


@pytest.mark.parametrize("call", [
    lambda: inventory.clean_lot("CMD:CANCEL"),
    lambda: locations.create_location(db.session, "CMD:A"),
    lambda: make_item("CMD:CONFIRM"),
    lambda: orders.create_order(db.session, "CMD:NEXT", "Acme", [{"sku": "PLAIN", "qty": 1}]),
])
def test_cmd_prefix_is_refused_as_a_lot_sku_location_or_order(wh, call):
    with pytest.raises(DomainError) as refused:
        call()
    assert refused.value.code == "reserved_prefix"
    assert "is a scanner command, not a" in refused.value.message


def test_the_api_refuses_a_command_as_a_lot(api, wh):
    make_item("LOT-2", require_lot=True)
    db.session.commit()
    response = api("admin").post("/api/v1/transactions/put", json={
        "location": "A-01", "sku": "LOT-2", "lot": "CMD:CANCEL", "qty": 1})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "reserved_prefix"
    assert ledger_rows() == 0


# ---------------------------------------------------------------- a GET only shows


def test_a_count_link_prefills_and_commits_nothing(as_role, wh):
    stock("A-01", "PLAIN", 5)
    before = ledger_rows()
    browser = as_role("packer")
    html = browser.get("/count?location=A-01&sku=PLAIN&qty=0").get_data(as_text=True)
    assert 'data-step="qty"' in html and 'value="0"' in html
    assert ledger_rows() == before


def orders_at_pack():
    db.session.rollback()
    return sorted(db.session.execute(select(Order.number, Order.status, Order.packing_station))
                  .all()), sorted(db.session.execute(select(Carton.number, Carton.status)).all())


def test_a_pack_link_opens_nothing_and_closes_nothing(app, wh):
    """A GET with an order, another order at the item step (a switch), and a command."""
    picked_orders("SO-1", "SO-2")
    other = station(app, "PACK-2", "packer2")
    other.scan("SO-2")
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN").scan("1")  # carton 1 open
    before = orders_at_pack()
    for query in ("order=SO-1&sku=SO-2", "order=SO-1&cmd=CMD:CLOSE", "order=SO-1&sku=CMD:CLOSE",
                  "order=SO-2&sku=PLAIN&qty=1", "cmd=CMD:NEXT"):
        html = s.b.get(f"/pack?{query}").get_data(as_text=True)
        assert "<html" in html, query
        assert orders_at_pack() == before, query
    assert before[0][1] == ("SO-2", "picked", "PACK-2")


# ---------------------------------------------------------------- found in review


def test_a_refused_switch_keeps_the_order_on_screen(app, wh):
    picked_orders("SO-1", "SO-2", qty=1)
    s = station(app, "PACK-1")
    s.scan("SO-2").scan("PLAIN").scan("1").scan("CMD:CLOSE")  # SO-2 packed and closed
    s.scan("SO-1")
    s.scan("SO-2")  # at SO-1's item step: packed and closed, refused
    assert s.error_code == "order_packed" and s.step == "sku" and s.fields["order"] == "SO-1"
    s.scan("PLAIN").scan("1")
    assert s.error_code is None and order("SO-1").status == "packed"


def test_cancel_and_the_order_chip_do_not_leave_a_complete_order_open(app, wh):
    picked_orders("SO-1", qty=1)
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN").scan("1")  # complete, carton 1 open
    s.scan("CMD:CANCEL")
    assert s.error_code == "carton_open" and s.fields["order"] == "SO-1"
    s.scan("", redo="order")
    assert s.error_code == "carton_open" and s.fields["order"] == "SO-1"
    assert order("SO-1").packing_station == "PACK-1"


def test_the_order_chip_leaves_an_order_in_progress(app, wh):
    picked_orders("SO-1", "SO-2")
    s = station(app, "PACK-1")
    s.scan("SO-1").scan("PLAIN").scan("1")  # 1 of 2
    s.scan("", redo="order")
    assert s.step == "order" and order("SO-1").packing_station is None
    s.scan("SO-2")
    assert order("SO-2").packing_station == "PACK-1"


def test_next_needs_a_station(as_role, wh):
    picked_orders("SO-1")
    s = Scanner(as_role("packer"), "/pack")  # a device with no station set
    s.scan("CMD:NEXT")
    assert s.error_code == "station_required" and "CMD:STATION" in s.html
    assert order("SO-1").packing_station is None
    s.scan("CMD:STATION:PACK-4")
    s.b.client.set_cookie("lotline_station", "PACK-4")  # as the browser keeps it
    s.scan("CMD:NEXT")
    assert s.fields["order"] == "SO-1" and order("SO-1").packing_station == "PACK-4"


def test_the_override_button_takes_a_number_typed_over_the_refused_one(as_role, wh):
    inventory.create_purchase_order(db.session, "PO-8", "Acme", [{"sku": "PLAIN", "qty": 2}])
    db.session.commit()
    s = Scanner(as_role("supervisor"), "/receive")
    s.scan("PO-8").scan("A-01").scan("PLAIN").scan("5")
    assert s.error_code == "over_receipt"
    s.scan("3", allow_over_receipt="1")
    assert s.error_code is None and "A-01 · PLAIN: 0 → 3" in s.html
