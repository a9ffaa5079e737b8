"""The inventory scan screens: Receive (PO Putaway), Put, Pull, Move, Cycle Count,
plus Location lookup and the supervisors' Needs cycle count list."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from lotline import inventory as domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.holdings import holding_hint
from lotline.items import find_item
from lotline.locations import get_location
from lotline.stock_rules import check_other_location

from . import accepts, page_or_fragment, role_blueprint, roles_required
from .scanflow import Flow, Step, advance, locking, preview, render_flow
from .scantext import clean_scan, scanned_expiry
from .station import current_station

bp = role_blueprint("inventory", __name__, "packer")


# ---------------------------------------------------------------- step checks (all via domain)

def _location(session, raw, state):
    return domain.active_location(session, raw).code


def _item(session, raw, state):
    return find_item(session, raw).sku


def _tracks_lot(session, state) -> bool:
    return "sku" in state and find_item(session, state["sku"]).require_lot


def _lot(session, raw, state):
    return domain.required_lot(find_item(session, state["sku"]), raw)


def _qty(session, raw, state):
    return str(domain.clean_qty(raw))


def _count_qty(session, raw, state):
    return str(domain.clean_qty(raw, allow_zero=True))


def _put_lot(session, raw, state):
    lot = _lot(session, raw, state)
    domain.check_destination(session, get_location(session, state["location"]),
                             find_item(session, state["sku"]), lot)
    return lot


def _put_item(session, raw, state):
    sku = _item(session, raw, state)
    item = find_item(session, sku)
    if not item.require_lot:
        domain.check_destination(session, get_location(session, state["location"]), item, None)
    return sku


def _source_item(key):
    def check(session, raw, state):
        item = find_item(session, _item(session, raw, state))
        domain.check_source(session, get_location(session, state[key]), item)
        return item.sku
    return check


def _source_lot(key):
    def check(session, raw, state):
        lot = _lot(session, raw, state)
        domain.verify_lot(session, get_location(session, state[key]),
                          find_item(session, state["sku"]), lot)
        return lot
    return check


def _holding(key):
    """Info line, from the moment the location ``key`` is scanned: what it holds (of the
    scanned item, once that is known)."""
    def info(session, state):
        return holding_hint(session, state[key], state.get("sku")) if key in state else None
    return info


def _to_location(session, raw, state):
    code = domain.active_location(session, raw).code
    check_other_location(state["from_location"], code)
    item = find_item(session, state["sku"])
    try:
        domain.check_destination(session, get_location(session, code), item, state.get("lot"))
    except DomainError as exc:
        exc.details["field"] = "to_location"  # the destination is what must change
        raise
    return code


def _po(session, raw, state):
    return domain.get_purchase_order(session, raw).number


def _po_item(session, raw, state):
    item = find_item(session, raw)
    domain.purchase_order_line(session, state["po"], item)
    return _put_item(session, item.sku, state)


def _po_info(session, state):
    if "po" not in state:
        return None
    po = domain.get_purchase_order(session, state["po"])
    if "sku" in state:
        line = domain.purchase_order_line(session, po.number, find_item(session, state["sku"]))
        return f"{po.number}: {line.remaining} of {line.item.sku} left to receive."
    left = ", ".join(f"{ln.item.sku} {ln.remaining}" for ln in po.lines if ln.remaining)
    return f"{po.number} ({po.vendor}) still to receive: {left or 'nothing'}."


def _lock_locations(session, *codes):
    domain.lock_locations(session, [code for code in codes if code])


LOCKS_LOCATION = locking(_lock_locations, "location")

LOCATION = Step("location", "Location", "Scan the location", _location)
ITEM = Step("sku", "Item", "Scan the item", _item)
QTY = Step("qty", "Quantity", "How many? Scan the item again to add one, or type a number",
           _qty, quantity=True)


# ---------------------------------------------------------------- commits

def _put_commit(session, state, actor, key, options):
    return domain.put(session, location=state["location"], sku=state["sku"],
                      lot=state.get("lot"), qty=state["qty"], actor=actor, idempotency_key=key,
                      expiry=scanned_expiry(options))


def _pull_commit(session, state, actor, key, options):
    return domain.pull(session, location=state["location"], sku=state["sku"],
                       lot=state.get("lot"), qty=state["qty"], actor=actor, idempotency_key=key)


def _move_commit(session, state, actor, key, options):
    return domain.move(session, from_location=state["from_location"],
                       to_location=state["to_location"], sku=state["sku"],
                       lot=state.get("lot"), qty=state["qty"], actor=actor, idempotency_key=key)


def _count_commit(session, state, actor, key, options):
    return domain.cycle_count(session, location=state["location"], sku=state["sku"],
                              lot=state.get("lot"), qty=state["qty"], actor=actor,
                              idempotency_key=key)


def _receive_commit(session, state, actor, key, options):
    return domain.putaway(session, po_number=state["po"], location=state["location"],
                          sku=state["sku"], lot=state.get("lot"), qty=state["qty"], actor=actor,
                          idempotency_key=key, expiry=scanned_expiry(options),
                          allow_over_receipt=bool(options.get("allow_over_receipt")))


FLOWS = {
    "put": Flow("put", "Put", "inventory.put", [
        LOCATION,
        Step("sku", "Item", "Scan the item", _put_item, info=_holding("location")),
        Step("lot", "Lot", "Scan the lot", _put_lot, applies=_tracks_lot,
             info=_holding("location")),
        Step("qty", "Quantity", QTY.prompt, _qty, quantity=True, info=_holding("location")),
    ], _put_commit, "Put away", lock=LOCKS_LOCATION),
    "pull": Flow("pull", "Pull", "inventory.pull", [
        LOCATION,
        Step("sku", "Item", "Scan the item", _source_item("location"),
             info=_holding("location")),
        Step("lot", "Lot", "Scan the lot to verify it", _source_lot("location"),
             applies=_tracks_lot, info=_holding("location")),
        Step("qty", "Quantity", QTY.prompt, _qty, quantity=True, info=_holding("location")),
    ], _pull_commit, "Pulled", lock=LOCKS_LOCATION),
    "move": Flow("move", "Move", "inventory.move", [
        Step("from_location", "From location", "Scan the location to move from", _location),
        Step("sku", "Item", "Scan the item", _source_item("from_location"),
             info=_holding("from_location")),
        Step("lot", "Lot", "Scan the lot to verify it", _source_lot("from_location"),
             applies=_tracks_lot, info=_holding("from_location")),
        Step("qty", "Quantity", QTY.prompt, _qty, quantity=True,
             info=_holding("from_location")),
        Step("to_location", "To location", "Scan the location to move to", _to_location),
    ], _move_commit, "Moved", lock=locking(_lock_locations, "from_location", "to_location"),
        redo_on={"needs_cycle_count": "from_location",
                 "insufficient_quantity": "from_location",
                 "location_holds_other_lot": "to_location"}),
    "count": Flow("count", "Cycle Count", "inventory.count", [
        LOCATION,
        Step("sku", "Item", "Scan the item", _item, info=_holding("location")),
        Step("qty", "Counted quantity", "Count them and type the number (0 if none)",
             _count_qty, quantity=True, info=_holding("location")),
        Step("lot", "Lot", "Scan the lot on the shelf", _lot,
             applies=lambda s, st: _tracks_lot(s, st) and st.get("qty") not in (None, "0")),
    ], _count_commit, "Counted", lock=LOCKS_LOCATION),
    "receive": Flow("receive", "Receive", "inventory.receive", [
        Step("po", "Purchase order", "Scan the purchase order", _po),
        Step("location", "Location", "Scan the location to put it in", _location,
             info=_po_info),
        Step("sku", "Item", "Scan the item", _po_item, info=_po_info),
        Step("lot", "Lot", "Scan the lot", _put_lot, applies=_tracks_lot),
        Step("qty", "Quantity", QTY.prompt, _qty, quantity=True, info=_po_info),
    ], _receive_commit, "Received", override={"over_receipt": "allow_over_receipt"},
        lock=LOCKS_LOCATION),
}


def _run(name: str):
    flow = FLOWS[name]
    actor = domain.Actor(current_user._get_current_object(), current_station())
    if request.method == "GET":  # a link may prefill the steps; only a POST commits
        return render_flow(preview(flow, db.session, request.args, actor))
    return render_flow(advance(flow, db.session, request.form, actor))


def _declared(name: str, *more: str):
    return accepts("csrf_token", *FLOWS[name].fields, *more)


@bp.route("/put", methods=["GET", "POST"])
@_declared("put")
def put():
    return _run("put")


@bp.route("/pull", methods=["GET", "POST"])
@_declared("pull")
def pull():
    return _run("pull")


@bp.route("/move", methods=["GET", "POST"])
@_declared("move")
def move():
    return _run("move")


@bp.route("/count", methods=["GET", "POST"])
@_declared("count")
def count():
    return _run("count")


@bp.route("/receive", methods=["GET", "POST"])
@_declared("receive", "allow_over_receipt", "override", "qty_override")
def receive():
    return _run("receive")


@bp.route("/lookup", methods=["GET", "POST"])
@accepts("csrf_token", "location")
def lookup():
    """Scan a location: what it holds (item, lot, expiry, quantity)."""
    code = clean_scan(request.values.get("location"))
    rows, error = None, None
    if code:
        try:
            location = get_location(db.session, code)
            rows = domain.query_inventory(db.session, location=location.code)
            code = location.code
        except DomainError as exc:
            error = exc
    return page_or_fragment("inventory/lookup.html", "inventory/_lookup.html",
                            422 if error else 200, code=code, rows=rows, error=error)


@bp.get("/needs-count")
@accepts()
@roles_required("supervisor")
def needs_count():
    rows = domain.needs_cycle_count(db.session)
    return render_template("inventory/needs_count.html", rows=rows)
