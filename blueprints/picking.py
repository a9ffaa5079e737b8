"""The pick screen: directed to a location, scan it and the item, confirm the quantity.
No lot scan: the lot is assumed from the inventory record (spec, Lot Tracking).

What a picker does with a scanner in hand:
  1. "Scan the order" (or tap Next open order).
  2. The screen says where to go: "Go to A-01-02: pick 3 × VIT-C-500 · lot VC24B07".
     Scan the location's label (another location that holds the item is accepted too).
  3. Scan the item. If that stock has no lot on record, the pick is blocked: cycle count
     the location, or tap Skip location to be sent elsewhere.
  4. Quantity is filled in with what to pick there; Enter confirms. Found fewer? Type what
     was there and tap "Short: found fewer" (the location goes on Needs cycle count).
  5. The next task appears; when nothing is left the order is picked. A line with no stock
     anywhere is recorded short with "Record short".
"""

from __future__ import annotations

from flask import request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lotline import inventory
from lotline import orders as orders_domain
from lotline import picking as domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.items import find_item

from . import role_blueprint
from .scanflow import Flow, Step, View, advance, first_step, new_key, render_flow
from .station import current_station

bp = role_blueprint("picking", __name__, "packer", url_prefix="/pick")


def _skip(values, order) -> set[str]:
    """Locations skipped for this order ("ORDER|A-01,B-02"); another order's skips don't count."""
    owner, _, codes = str(values.get("skip") or "").partition("|")
    if not order or owner != order:
        return set()
    return {c for c in codes.split(",") if c}


def _order(session, raw, state):
    order = orders_domain.get_order(session, raw)
    orders_domain.check_workable(order)
    return order.number  # a fully picked order is shown as picked (see index)


def _location(session, raw, state):
    return inventory.active_location(session, raw).code


def _item(session, raw, state):
    order = orders_domain.get_order(session, state["order"])
    loc = inventory.active_location(session, state["location"])
    line, _ = domain.check_pick(session, order, loc, raw)
    return line.item.sku


def _qty(session, raw, state):
    return str(inventory.clean_qty(raw, allow_zero=True))


def _default_qty(session, state):
    order = orders_domain.get_order(session, state["order"])
    item = find_item(session, state["sku"])
    line = next(ln for ln in order.lines if ln.item_id == item.id)
    inv = inventory.inventory_at(session, inventory.active_location(session, state["location"]),
                                 item)
    return min(line.to_pick, inv.qty if inv else 0)


def _lot_line(session, state):
    item = find_item(session, state["sku"])
    inv = inventory.inventory_at(session, inventory.active_location(session, state["location"]),
                                 item)
    if inv is None:
        return None
    lot = f"lot {inv.lot.number} (assumed from the location)" if inv.lot else "no lot"
    return f"{state['location']} holds {inv.qty} of {item.sku}, {lot}."


def _commit(session, state, actor, key, options):
    return domain.pick(session, order_number=state["order"], location=state["location"],
                       sku=state["sku"], qty=state["qty"], actor=actor, idempotency_key=key,
                       found_short=bool(options.get("found_short")))


FLOW = Flow("pick", "Pick", "picking.index", [
    Step("order", "Order", "Scan the order", _order),
    Step("location", "Location", "Scan the location shown", _location),
    Step("sku", "Item", "Scan the item", _item),
    Step("qty", "Quantity", "Confirm the quantity picked", _qty, quantity=True,
         default=_default_qty, info=_lot_line),
], _commit, "Picked", keep=("order",), panel="picking/_panel.html", carry=("skip",),
    redo_on={"pick_blocked": "location", "insufficient_quantity": "location"})


def _panel(view: View) -> dict:
    number = view.state.get("order")
    if not number:
        return {"order": None, "task": None}
    order = orders_domain.get_order(db.session, number)
    return {"order": order,
            "task": domain.next_task(db.session, order, _skip(view.extra, order.number))}


def _without(form, *names) -> MultiDict:
    out = MultiDict(form)
    for name in names:
        out.pop(name, None)
    return out


@bp.route("", methods=["GET", "POST"])
def index():
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    if request.method == "GET" and not request.args.get("order"):
        view = View(FLOW, {}, key=new_key(), current=first_step(FLOW, db.session, {}))
        return render_flow(view, **_panel(view))
    form = MultiDict(request.values)
    options, result, error = {}, None, None
    try:
        if form.get("next_order"):
            form["order"] = domain.next_order_to_pick(db.session).number
        if form.get("skip_location"):
            order = str(form.get("order") or "").strip().upper()
            codes = sorted(_skip(form, order) | {form["skip_location"]})
            form["skip"] = f"{order}|{','.join(codes)}"
            form = _without(form, "location", "sku", "qty")
        if form.get("short_line"):
            result = domain.short_line(db.session, order_number=form.get("order"),
                                       sku=form["short_line"], actor=actor,
                                       idempotency_key=form.get("idem"))
            form = _without(form, "location", "sku", "qty", "idem")
    except DomainError as exc:
        db.session.rollback()
        error = exc
    if form.get("found_short"):
        options["found_short"] = True
    view = advance(FLOW, db.session, form, actor, options)
    if result is not None and view.error is None:
        view.result, view.feedback = result, "success"
    if error is not None:
        view.error, view.feedback = error, "error"
    panel = _panel(view)
    if panel["order"] is not None and panel["task"] is None:
        # This order is done: show it as picked and ask for the next one (skips reset).
        view.state, view.extra = {}, {}
        view.current = first_step(FLOW, db.session, {})
    db.session.rollback()
    return render_flow(view, **panel)
