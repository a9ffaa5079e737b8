"""Property test: random scan sequences against the real domain and a pure-Python model.

The model is the rules (PRODUCT.md rules 2–4 and the cycle count) written as plain code
over a dict ``(location, sku) -> (lot, qty)``. Hypothesis generates sequences of put,
pull, move, cycle count (and retries of the previous scan with its idempotency key); after
every step the outcome (success or error code), the stock and the ledger rows written must
be what the model says, and the ledger must agree with the inventory.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from lotline import inventory
from lotline import locations as locations_domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import IdempotencyRecord, Inventory, Item, LedgerEntry, Location, Lot, User
from tests.conftest import make_item, make_user

TRACKED = {"LOT": True, "PLAIN": False}  # sku -> require_lot
LOCATIONS = ["P-1", "P-2", "P-3"]


# ---------------------------------------------------------------- the model


def _qty_ok(qty: int, allow_zero: bool = False) -> bool:
    return (0 if allow_zero else 1) <= qty <= inventory.MAX_QTY


def _lot_error(sku, lot):
    if TRACKED[sku] and lot is None:
        return "lot_required"
    if not TRACKED[sku] and lot is not None:
        return "validation_error"
    return None


def _verify(stock, loc, sku, lot, qty):
    """Rule 4 at a source: the refusal code, or None."""
    held = stock.get((loc, sku))
    if held is None:
        return "insufficient_quantity"
    if TRACKED[sku] and held[0] != lot:
        return "lot_mismatch"
    if qty > held[1]:
        return "insufficient_quantity"
    return None


def _destination(stock, loc, sku, lot):
    """Rule 2 at a destination: the refusal code, or None."""
    held = stock.get((loc, sku))
    if held is not None and held[0] != lot:
        return "location_holds_other_lot"
    return None


def _set(stock, loc, sku, lot, qty):
    if qty:
        stock[(loc, sku)] = (lot, qty)
    else:
        stock.pop((loc, sku), None)


def model(stock: dict, step: tuple):
    """Apply ``step`` to ``stock`` in place; return (error code or None, ledger rows)."""
    op, *args = step
    if op == "put":
        loc, sku, lot, qty = args
        code = ((not _qty_ok(qty) and "validation_error") or _lot_error(sku, lot)
                or _destination(stock, loc, sku, lot))
        if code:
            return code, []
        after = stock.get((loc, sku), (lot, 0))[1] + qty
        _set(stock, loc, sku, lot, after)
        return None, [("put", loc, sku, lot, qty, after)]
    if op == "pull":
        loc, sku, lot, qty = args
        code = ((not _qty_ok(qty) and "validation_error") or _lot_error(sku, lot)
                or _verify(stock, loc, sku, lot, qty))
        if code:
            return code, []
        held, before = stock[(loc, sku)]
        _set(stock, loc, sku, held, before - qty)
        return None, [("pull", loc, sku, held, -qty, before - qty)]
    if op == "move":
        src, dst, sku, lot, qty = args
        code = ((not _qty_ok(qty) and "validation_error") or (src == dst and "validation_error")
                or _lot_error(sku, lot) or _verify(stock, src, sku, lot, qty)
                or _destination(stock, dst, sku, lot))
        if code:
            return code, []
        held, before = stock[(src, sku)]
        there = stock.get((dst, sku), (held, 0))[1]
        _set(stock, src, sku, held, before - qty)
        _set(stock, dst, sku, held, there + qty)
        return None, [("move-out", src, sku, held, -qty, before - qty),
                      ("move-in", dst, sku, held, qty, there + qty)]
    if op == "count":
        loc, sku, lot, qty = args
        if not _qty_ok(qty, allow_zero=True):
            return "validation_error", []
        if qty > 0 and _lot_error(sku, lot):
            return _lot_error(sku, lot), []
        if qty == 0 and lot is not None and not TRACKED[sku]:
            return "validation_error", []
        old_lot, before = stock.get((loc, sku), (None, 0))
        new_lot = lot if qty > 0 else old_lot
        _set(stock, loc, sku, new_lot, qty)
        if qty > 0 and before > 0 and old_lot != new_lot:
            return None, [("cycle-count", loc, sku, old_lot, -before, 0),
                          ("cycle-count", loc, sku, new_lot, qty, qty)]
        return None, [("cycle-count", loc, sku, new_lot, qty - before, qty)]
    raise AssertionError(op)


# ---------------------------------------------------------------- the real thing


def call(step: tuple, actor, key: str):
    """Run ``step`` through lotline.inventory: (error code or None, Result or None)."""
    op, *args = step
    try:
        if op == "move":
            src, dst, sku, lot, qty = args
            result = inventory.move(db.session, from_location=src, to_location=dst, sku=sku,
                                    lot=lot, qty=qty, actor=actor, idempotency_key=key)
        else:
            loc, sku, lot, qty = args
            fn = {"put": inventory.put, "pull": inventory.pull,
                  "count": inventory.cycle_count}[op]
            result = fn(db.session, location=loc, sku=sku, lot=lot, qty=qty, actor=actor,
                        idempotency_key=key)
    except DomainError as exc:
        db.session.rollback()
        return exc.code, None
    return None, result


def real_stock() -> dict:
    rows = db.session.execute(
        select(Location.code, Item.sku, Lot.number, Inventory.qty)
        .select_from(Inventory).join(Location).join(Item)
        .outerjoin(Lot, Lot.id == Inventory.lot_id))
    return {(loc, sku): (lot, qty) for loc, sku, lot, qty in rows}


def ledger_after(last_id: int) -> list[tuple]:
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.type, Location.code, Item.sku, Lot.number,
               LedgerEntry.delta, LedgerEntry.qty_after)
        .select_from(LedgerEntry).join(Location).join(Item)
        .outerjoin(Lot, Lot.id == LedgerEntry.lot_id)
        .where(LedgerEntry.id > last_id).order_by(LedgerEntry.id))
    return [tuple(r) for r in rows]


def reset() -> None:
    """A fresh warehouse for the next example: no stock, ledger, lots or keys."""
    db.session.rollback()
    for table in (LedgerEntry, Inventory, IdempotencyRecord, Lot):
        db.session.execute(delete(table))
    db.session.commit()


# ---------------------------------------------------------------- the generated scans

OPS = ["put", "put", "pull", "pull", "move", "move", "count", "retry"]


def draw_step(data, stock: dict) -> tuple:
    """One scan, drawn with an eye on the model's stock so the rules get exercised.

    Pulls and moves mostly start where the item is; lots are mostly the one there
    (``held``) and sometimes another; quantities are small, sometimes exactly what is
    there, one more than that, zero or negative.
    """
    op = data.draw(st.sampled_from(OPS), label="op")
    if op == "retry":
        return ("retry",)
    stocked = sorted(stock)
    if stocked and data.draw(st.integers(0, 3), label="aim") > (0 if op != "put" else 1):
        loc, sku = data.draw(st.sampled_from(stocked), label="slot")
    else:
        loc = data.draw(st.sampled_from(LOCATIONS), label="location")
        sku = data.draw(st.sampled_from(sorted(TRACKED)), label="sku")
    held_lot, held_qty = stock.get((loc, sku), (None, 0))
    choices = ["held", "held", "A", "B", None] if TRACKED[sku] else [None, None, None, "A"]
    lot = data.draw(st.sampled_from(choices), label="lot")
    if lot == "held":
        lot = held_lot or "A"
    qty = data.draw(st.sampled_from([1, 2, "all", 3, 1, "more", 0, -1]), label="qty")
    qty = {"all": held_qty or 4, "more": held_qty + 1}.get(qty, qty)
    if op == "move":
        others = [x for x in LOCATIONS if x != loc]
        to = data.draw(st.sampled_from(others + others + [loc]), label="to")
        return ("move", loc, to, sku, lot, qty)
    return (op, loc, sku, lot, qty)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_domain_behaves_like_the_model(app, data):
    if db.session.scalar(select(User.id)) is None:  # the app fixture's database, set up once
        make_user("prop", "packer")
        for sku, tracked in TRACKED.items():
            make_item(sku, require_lot=tracked)
        for code in LOCATIONS:
            locations_domain.create_location(db.session, code)
        db.session.commit()
    reset()
    actor = inventory.Actor(db.session.scalar(select(User)), "prop")
    stock: dict = {}
    last_id = db.session.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc())) or 0
    previous = None  # (step, key, code, result) of the last scan, for a retry

    for n in range(data.draw(st.integers(6, 25), label="steps")):
        step = draw_step(data, stock)
        if step == ("retry",):
            if previous is None:
                continue
            step, key, first_code, first = previous
            code, result = call(step, actor, key)
            if first_code is None:  # applied before: replayed, nothing written
                assert code is None and result.replayed, (step, code)
                assert result.changes == first.changes
                assert ledger_after(last_id) == []
                assert real_stock() == stock
                continue
            # refused before: a refusal writes nothing, so the retry is judged afresh
        else:
            key = f"prop-{n:04d}"
            code, result = call(step, actor, key)
        before = dict(stock)
        expected_code, expected_rows = model(stock, step)
        assert code == expected_code, (step, before)
        written = ledger_after(last_id)
        assert [r[1:] for r in written] == expected_rows, step
        if written:
            last_id = written[-1][0]
        if result is not None:
            assert not result.replayed
            assert [(c.location, c.sku, c.lot, c.after - c.before, c.after)
                    for c in result.changes] == [r[1:] for r in expected_rows]
        assert real_stock() == stock, step
        assert inventory.ledger_mismatches(db.session) == []
        previous = (step, key, code, result)
