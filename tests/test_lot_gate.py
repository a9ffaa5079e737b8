"""The pack gate (lotline/lot_gate.py): a held, expired or unfit lot never leaves, at pick,
at pack, on the offline replay; the lot's own expiry counts, not the client's."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, lots, pack_gate, packing, picking
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Item, PackLine
from tests.conftest import make_item, make_order, order
from tests.test_concurrency import run_stations
from tests.test_flows import Scanner
from tests.test_packing import setting

ACTOR = inventory.Actor(None, "GATE")
TODAY = dt.date.today()


@pytest.fixture
def wh(app):
    for code in ("A-01", "A-02", "B-01"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True, min_shelf_life_days=30)
    db.session.commit()


def stock(code, lot, qty=5, expiry=None):
    inventory.put(db.session, location=code, sku="LOT-1", lot=lot, qty=qty, actor=ACTOR,
                  expiry=expiry or TODAY + dt.timedelta(days=365))


def pick(number, code, qty):
    picking.pick(db.session, order_number=number, location=code, sku="LOT-1", qty=qty,
                 actor=ACTOR)


def pack(number="SO-1", **kw):
    return packing.pack(db.session, order_number=number, sku="LOT-1", actor=ACTOR, **kw)


def refused(code, call, *args, **kw):
    with pytest.raises(DomainError) as error:
        call(*args, **kw)
    assert error.value.code == code, error.value.message
    db.session.rollback()
    return error.value


def pack_lines() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(PackLine))


def test_a_lot_held_after_its_pick_is_refused_at_pack_with_the_reason(wh):
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 2)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall R-7", actor=ACTOR)
    error = refused("lot_on_hold", pack)  # nothing recorded: the lot picked is judged
    assert "Lot L1 of LOT-1 is on hold (Recall R-7" in error.message
    assert error.details["reason"] == "Recall R-7"
    refused("lot_on_hold", pack, lot="L1")
    assert pack_lines() == 0
    lots.release(db.session, number="L1", sku="LOT-1", actor=ACTOR)
    pack(lot="L1")
    assert pack_lines() == 1


def test_the_lot_in_the_hand_is_judged_not_the_one_picked(wh):
    stock("A-01", "L1")
    stock("A-02", "L2")
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 2)
    lots.hold(db.session, number="L2", sku="LOT-1", reason="Quality check", actor=ACTOR)
    refused("lot_on_hold", pack, lot="L2")  # recorded: the held lot in hand may not leave
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
    lots.release(db.session, number="L2", sku="LOT-1", actor=ACTOR)
    result = pack(lot="L2")  # L2 is fine now; the picked L1 is held but not in the carton
    assert any("not the lot picked" in m for m in result.messages)


def test_the_expiry_on_record_counts_not_the_clients(wh, as_role):
    stock("A-01", "L1", expiry=TODAY + dt.timedelta(days=10))  # inside 30 days' shelf life
    make_order("SO-1", LOT_1=1)
    db.session.execute(Item.__table__.update().values(min_shelf_life_days=0))
    db.session.commit()
    pick("SO-1", "A-01", 1)
    db.session.execute(Item.__table__.update().values(min_shelf_life_days=30))
    db.session.commit()
    refused("shelf_life_too_short", pack, lot="L1", expiry=dt.date(2099, 12, 31))
    browser = as_role("packer")
    response = browser.client.post("/pack/replay", json={
        "order": "SO-1", "sku": "LOT-1", "qty": 1, "lot": "L1", "expiry": "2099-12-31",
        "key": "replay-gate-0001"}, headers={"X-CSRFToken": browser.token})
    assert response.status_code == 422 and response.json["code"] == "shelf_life_too_short"
    assert pack_lines() == 0


def test_an_expired_lot_is_refused_and_an_unknown_lot_judged_by_its_label(wh):
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=3)
    pick("SO-1", "A-01", 3)
    refused("lot_expired", pack, lot="NEW-1", expiry=TODAY - dt.timedelta(days=1))
    refused("shelf_life_too_short", pack, lot="NEW-1", expiry=TODAY + dt.timedelta(days=5))
    pack(lot="NEW-2", expiry=TODAY + dt.timedelta(days=90))
    pack(lot="NEW-3")  # unknown, no expiry: passes (recorded as not the lot picked: flagged)
    assert pack_lines() == 2


def two_lots_picked_one_held():
    """SO-1: 2 × LOT-1, one picked from L1 and one from L2; then L2 is held."""
    stock("A-01", "L1", qty=1)
    stock("A-02", "L2", qty=1)
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 1)
    pick("SO-1", "A-02", 1)
    lots.hold(db.session, number="L2", sku="LOT-1", reason="Recall", actor=ACTOR)


def test_picked_from_two_lots_one_held_asks_for_the_lot(wh, as_role):
    setting(False)  # the item records no lot at pack: the gate still asks for one
    two_lots_picked_one_held()
    error = refused("lot_required", pack)
    assert "picked from lots L1, L2, and lot L2: lot on hold" in error.message
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1")
    assert s.step == "lot"  # the screen asks for it too
    s.scan("L2").scan("1")
    assert s.error_code == "lot_on_hold" and s.step == "lot"
    s.scan("L1")  # the quantity was given: the lot that may leave packs it
    assert s.error_code is None and s.step == "sku" and pack_lines() == 1


def test_pick_refuses_an_expired_lot_and_skips_it(wh):
    stock("A-01", "OLD", expiry=TODAY - dt.timedelta(days=2))
    make_order("SO-1", LOT_1=1)
    task = picking.next_task(db.session, order("SO-1"))
    assert task.location is None
    assert task.held[0].startswith("Skipped A-01: Lot OLD of LOT-1 expired on")
    error = refused("nothing_to_pick_here", pick, "SO-1", "A-01", 1)  # only the expired lot
    assert "Nothing at A-01 can be picked for order SO-1: Lot OLD of LOT-1 expired on" \
        in error.message and "No stock left for LOT-1" in error.message


def test_a_hold_committed_while_stations_pack_that_lot_stops_every_later_pack(app, wh,
                                                                           monkeypatch):
    """A supervisor holds lot L1 while four stations pack it: no pack of L1 commits after
    the hold commits (on PostgreSQL the pack's FOR SHARE on the lot waits for the hold's
    lock, then reads the hold; on SQLite the writers take turns)."""
    stock("A-01", "L1", qty=20)
    make_order("SO-1", LOT_1=20)
    pick("SO-1", "A-01", 20)
    held_at = {}
    real = lots._ledger_marks

    def slow_marks(*args, **kwargs):  # the hold is placed, not yet committed
        real(*args, **kwargs)
        time.sleep(0.3)

    monkeypatch.setattr(lots, "_ledger_marks", slow_marks)
    committed_packs: list[float] = []
    barrier = threading.Barrier(5)

    def work(n):
        barrier.wait(timeout=30)
        if n == 0:
            time.sleep(0.05)
            lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
            held_at["t"] = time.monotonic()
            return
        for _ in range(8):
            try:
                pack(lot="L1")
                committed_packs.append(time.monotonic())
            except DomainError as exc:
                assert exc.code == "lot_on_hold", exc.message
            time.sleep(0.02)

    run_stations(app, 5, work)
    assert "t" in held_at and committed_packs
    assert not [t for t in committed_packs if t > held_at["t"] + 0.01], \
        "a pack of the held lot committed after the hold"


def test_an_order_packed_before_a_hold_is_intercepted_and_cannot_ship(wh):
    from lotline import dashboard
    from lotline import orders as orders_domain

    stock("A-01", "L1")
    make_order("SO-1", LOT_1=1)
    pick("SO-1", "A-01", 1)
    pack()
    packing.close_carton(db.session, order_number="SO-1")
    db.session.commit()
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall R-9", actor=ACTOR)
    found = dashboard.intercepts_exception(db.session)
    assert found.count == 1 and found.cases[0].order == "SO-1"
    assert "carton 1 · LOT-1 lot L1: lot on hold" in found.cases[0].text
    error = refused("lot_on_hold", orders_domain.ship_order, db.session, order("SO-1"))
    assert "Order SO-1 may not ship: carton 1 holds LOT-1 lot L1" in error.message
    assert order("SO-1").status == "packed"
    lots.release(db.session, number="L1", sku="LOT-1", actor=ACTOR)
    assert dashboard.intercepts_exception(db.session).count == 0
    orders_domain.ship_order(db.session, order("SO-1"))
    db.session.commit()
    assert order("SO-1").status == "shipped"


def test_a_supervisor_returns_held_picked_units_and_the_line_is_picked_again(wh, as_role):
    from lotline.models import LedgerEntry

    stock("A-01", "L1", qty=2)
    stock("A-02", "L2", qty=5)
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 2)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
    packer = as_role("packer")
    assert packer.post("/orders/SO-1/return", {"sku": "LOT-1", "lot": "L1", "qty": "2",
                                                "location": "B-01"}).status_code == 403
    sup = as_role("supervisor", username="sam1")
    page = sup.get("/orders/SO-1").get_data(as_text=True)
    assert "2 × LOT-1 lot L1 picked for this order may not leave" in page
    taken = sup.post("/orders/SO-1/return", {"sku": "LOT-1", "lot": "L1", "qty": "2",
                                              "location": "A-02"})  # holds L2: rule 2
    assert taken.status_code == 422 and "A-02" in taken.get_data(as_text=True)
    done = sup.post("/orders/SO-1/return", {"sku": "LOT-1", "lot": "L1", "qty": "2",
                                             "location": "b-01"})
    assert done.status_code == 302
    db.session.rollback()
    assert order("SO-1").lines[0].qty_picked == 0 and order("SO-1").status == "open"
    assert inventory.ledger_mismatches(db.session) == []
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.type == "return")) == 1
    task = picking.next_task(db.session, order("SO-1"))
    assert task.location.code == "A-02" and task.lot.number == "L2"  # another lot
    again = sup.post("/orders/SO-1/return", {"sku": "LOT-1", "lot": "L1", "qty": "1",
                                              "location": "B-01"})
    assert again.status_code == 422  # nothing left to return


def test_a_supervisor_lets_a_held_lot_through_at_the_station(wh, as_role, api):
    from lotline import users
    from lotline.models import LoginThrottle

    setting(True)  # the lot is scanned at pack
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 2)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Quality check", actor=ACTOR)
    users.create_user(db.session, "boss", "boss-password-1", "supervisor",
                      hash_method="pbkdf2:sha256:1000")
    users.create_user(db.session, "pal", "pal-password-1", "packer",
                      hash_method="pbkdf2:sha256:1000")
    db.session.commit()
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1").scan("L1").scan("1")
    assert s.error_code == "lot_on_hold" and 'id="override-form"' in s.html
    form = {**s.fields, "lot": "L1", "override": "supervisor", "override_reason": "QA cleared"}
    # a packer cannot override, even with their own password
    s.scan("L1", **{**form, "override_user": "pal", "override_password": "pal-password-1"})
    assert s.error_code == "forbidden" and pack_lines() == 0
    # a wrong password is counted by the sign-in throttle
    s.scan("L1", **{**form, "override_user": "boss", "override_password": "wrong"})
    assert s.error_code == "bad_credentials" and pack_lines() == 0
    assert db.session.get(LoginThrottle, "boss").failures == 1
    # the form stays, holding the refused scan, so the supervisor can type again
    assert 'id="override-form"' in s.html and s.step == "qty"
    assert 'name="lot" value="L1"' in s.html and 'name="override" value="supervisor"' in s.html
    assert 'name="override_user" value="boss"' in s.html  # the name and reason stay typed
    assert 'value="QA cleared"' in s.html and 'value="wrong"' not in s.html  # no password
    s.scan("L1", **{**form, "override_user": "boss", "override_password": "boss-password-1"})
    assert s.error_code is None and "Let through by boss: lot on hold (QA cleared)" in s.html
    line = db.session.scalar(select(PackLine))
    assert (line.recorded_lot, line.override_by.username, line.override_reason) == \
        ("L1", "boss", "QA cleared")
    trace = lots.trace(db.session, "L1", "LOT-1")
    assert any("let through by boss: QA cleared" in s.note for s in trace.shipments)
    body = api("supervisor").get("/api/v1/orders/SO-1").json  # the API says so too
    assert body["lines"][0]["pack_lines"][0]["override"] == {"by": "boss",
                                                             "reason": "QA cleared"}
    refused("lot_on_hold", pack, lot="L1")  # one scan only: the next is refused again


def test_with_no_lot_recorded_the_refusal_comes_at_the_quantity_and_can_be_let_through(
        wh, as_role):
    from lotline import users

    setting(False)  # no lot step: the picked lot is judged
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=1)
    pick("SO-1", "A-01", 1)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
    users.create_user(db.session, "boss", "boss-password-1", "supervisor",
                      hash_method="pbkdf2:sha256:1000")
    db.session.commit()
    s = Scanner(as_role("packer"), "/pack")
    s.scan("SO-1").scan("LOT-1").scan("1")
    assert s.error_code == "lot_on_hold" and s.step == "qty" and s.fields["sku"] == "LOT-1"
    s.scan("1", override="supervisor", override_user="boss", override_password="typo",
           override_reason="Recall does not cover it")
    assert s.error_code == "bad_credentials" and 'id="override-form"' in s.html
    assert s.step == "qty" and pack_lines() == 0
    s.scan("1", override="supervisor", override_user="boss",
           override_password="boss-password-1", override_reason="Recall does not cover it")
    assert s.error_code is None and pack_lines() == 1


# ---------------------------------------------------------------- found in review


def test_two_picked_lots_one_held_the_fit_lot_covers_only_its_own_units(wh):
    setting(True)
    two_lots_picked_one_held()
    error = refused("lot_required", pack, lot="L1", qty=2)  # one of them is L2's
    assert "Only 1 of lot L1" in error.message
    pack(lot="L1", qty=1)
    refused("lot_required", pack, lot="L1", qty=1)  # L1's one unit is packed already
    assert pack_lines() == 1


def test_a_lot_from_a_label_is_judged_even_when_not_recorded(wh, as_role):
    setting(False)  # the item records no lot at pack: the lot is dropped, not ignored
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", 2)
    stock("B-01", "BAD")
    lots.hold(db.session, number="BAD", sku="LOT-1", reason="Recall", actor=ACTOR)
    refused("lot_on_hold", pack, lot="BAD", unneeded="drop")
    assert pack_lines() == 0


def test_a_held_lot_in_another_case_is_still_held(wh):
    stock("A-01", "L1")
    make_order("SO-1", LOT_1=1)
    pick("SO-1", "A-01", 1)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
    refused("lot_on_hold", pack, lot="l1")


def test_a_label_expiry_counts_for_a_known_lot_without_one(wh):
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="NOEXP", qty=2, actor=ACTOR)
    make_order("SO-1", LOT_1=1)
    pick("SO-1", "A-01", 1)
    refused("shelf_life_too_short", pack, lot="NOEXP", expiry=TODAY + dt.timedelta(days=5))


def test_an_override_lets_the_order_ship_and_a_later_hold_stops_it(wh, as_role):
    from lotline import orders as orders_domain
    from lotline import users

    stock("A-01", "L1")
    make_order("SO-1", LOT_1=1)
    pick("SO-1", "A-01", 1)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall", actor=ACTOR)
    boss = users.create_user(db.session, "boss", "boss-password-1", "supervisor",
                             hash_method="pbkdf2:sha256:1000")
    db.session.commit()
    from lotline import dashboard

    pack(lot="L1", override=pack_gate.supervisor_override(boss, "QA cleared it"))
    packing.close_carton(db.session, order_number="SO-1")
    db.session.commit()
    assert dashboard.intercepts_exception(db.session).count == 0  # the override covers it
    time.sleep(0.01)
    lots.release(db.session, number="L1", sku="LOT-1", actor=ACTOR)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall 2", actor=ACTOR)
    assert dashboard.intercepts_exception(db.session).count == 1  # held again since
    refused("lot_on_hold", orders_domain.ship_order, db.session, order("SO-1"))
    lots.release(db.session, number="L1", sku="LOT-1", actor=ACTOR)
    orders_domain.ship_order(db.session, order("SO-1"))
    db.session.commit()
    assert order("SO-1").status == "shipped"


def test_returns_never_give_back_units_packed_as_that_lot(wh):
    from lotline import returns

    stock("A-01", "L1", qty=2)
    stock("A-02", "L2", qty=2)
    make_order("SO-1", LOT_1=4)
    pick("SO-1", "A-01", 2)
    pick("SO-1", "A-02", 2)
    pack(lot="L2", qty=2)
    lots.hold(db.session, number="L2", sku="LOT-1", reason="Recall", actor=ACTOR)
    assert returns.returnable(db.session, order("SO-1").lines[0]) == {}


def test_the_lot_row_says_whether_it_is_held_and_the_gate_reads_it(wh):
    """lot.on_hold (what the pack's one locking read sees) follows hold and release; the
    gate's state comes from it, the hold's reason and who placed it from the hold row."""
    from lotline import lot_gate
    from lotline.models import Lot

    stock("A-01", "L1")

    def on_hold():
        db.session.rollback()
        return db.session.scalar(select(Lot.on_hold).where(Lot.number == "L1"))

    assert on_hold() is False
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall 7", actor=ACTOR)
    assert on_hold() is True
    item_id = db.session.scalar(select(Item.id).where(Item.sku == "LOT-1"))
    state = lot_gate.lot_states(db.session, item_id, ["l1"], lock=True).get("L1")
    assert (state.number, state.hold_reason) == ("L1", "Recall 7")
    lots.release(db.session, number="L1", sku="LOT-1", note="cleared", actor=ACTOR)
    assert on_hold() is False
    assert lot_gate.lot_states(db.session, item_id, ["L1"], lock=True)["L1"].hold_reason is None
