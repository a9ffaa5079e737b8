"""The pack station: scan the order, then each item; when Require Lot/Serial at Pack is on
and the item requires it, a Lot field (and one Serial field per unit) is swapped in and the
pack line cannot be confirmed without it.

What a packer does with a scanner in hand:
  1. "Scan the order": the order's lines appear with what is picked and packed.
  2. "Scan the item": an item not on the order, or one already fully packed, is refused.
  3. If the item needs it now: "Scan the lot" (it need not match the picked lot: a
     different one is recorded, flagged, and never blocks), then for serial items
     "Scan the serial" (one unit per serial; a serial already packed is refused).
  4. "Quantity" (not for serial items): 1 is filled in, scanning the item again adds one,
     Enter confirms. The line joins the open carton.
  5. Close the carton (weight optional) when it is full; when every line is packed the
     order is complete and the packing slip prints from the link shown.
"""

from __future__ import annotations

from flask import abort, jsonify, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lotline import inventory
from lotline import orders as orders_domain
from lotline import packing as domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.items import find_item
from lotline.models import Order

from . import role_blueprint
from .scanflow import Flow, Step, View, advance, first_step, new_key, render_flow
from .station import current_station

bp = role_blueprint("packing", __name__, "packer", url_prefix="/pack")


def _order(session, raw, state):
    order = orders_domain.get_order(session, raw)
    orders_domain.check_workable(order)
    return order.number


def _line(session, state, raw=None):
    order = orders_domain.get_order(session, state["order"])
    return domain.order_line(session, order, raw or state["sku"])


def _item(session, raw, state):
    line = _line(session, state, raw)
    domain.check_room(line, 1, line.item.sku, state["order"])
    return line.item.sku


def _needs(session, state):
    return domain.needs(session, domain.pack_item(session, state["sku"]))


def _lot(session, raw, state):
    lot = inventory.clean_lot(raw)
    if lot is None:
        raise DomainError("lot_required", "Scan the lot.", field="lot")
    return lot


def _serial(session, raw, state):
    serial = domain.clean_serial(raw)
    if serial is None:
        raise DomainError("serial_required", "Scan the serial.", field="serial")
    domain.check_serial(session, find_item(session, state["sku"]), serial)
    return serial


def _qty(session, raw, state):
    qty = inventory.clean_qty(raw)
    line = _line(session, state)
    domain.check_room(line, qty, line.item.sku, state["order"])
    return str(qty)


def _picked_info(session, state):
    line = _line(session, state)
    lots = domain.picked_lots(session, line)
    picked = f"Picked lot {', '.join(sorted(lots))}." if lots else "No lot picked for it."
    return f"{line.item.sku}: {line.qty_packed} of {line.qty - line.qty_short} packed. {picked}"


def _commit(session, state, actor, key, options):
    from .inventory import _expiry

    return domain.pack(session, order_number=state["order"], sku=state["sku"], actor=actor,
                       qty=state.get("qty", 1), lot=state.get("lot"),
                       serial=state.get("serial"), idempotency_key=key,
                       expiry=_expiry(options), unneeded="drop")


FLOW = Flow("pack", "Pack", "packing.index", [
    Step("order", "Order", "Scan the order", _order),
    Step("sku", "Item", "Scan the item", _item),
    Step("lot", "Lot", "Scan the lot on the item", _lot,
         applies=lambda s, st: "sku" in st and _needs(s, st).lot, info=_picked_info),
    Step("serial", "Serial", "Scan the serial of this unit", _serial,
         applies=lambda s, st: "sku" in st and _needs(s, st).serial, info=_picked_info),
    Step("qty", "Quantity", "How many? Scan the item again to add one, or type a number",
         _qty, quantity=True, info=_picked_info,
         applies=lambda s, st: "sku" in st and not _needs(s, st).serial),
], _commit, "Packed", keep=("order",), panel="packing/_panel.html")


def _panel(view: View) -> dict:
    """The order's panel: the one the pack just committed drew, else read now."""
    panel = getattr(view.result, "panel", None)
    number = str(view.state.get("order") or "").strip().upper()
    if panel is None or panel.number != number:
        panel = domain.pack_panel(db.session, number)
    if panel is None:
        return {"order": None, "lots": {}, "carton": None, "needs": {}}
    return {"order": panel, "lots": panel.lots, "carton": panel.carton, "needs": panel.needs}


@bp.route("", methods=["GET", "POST"])
def index():
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    if request.method == "GET" and not request.args.get("order"):
        view = View(FLOW, {}, key=new_key(), current=first_step(FLOW, db.session, {}))
        return render_flow(view, **_panel(view))
    form = MultiDict(request.values)
    message, error = None, None
    if form.get("close_carton"):
        try:
            carton = domain.close_carton(db.session, order_number=form.get("order"),
                                         weight_grams=form.get("weight") or None)
            db.session.commit()
            message = f"Carton {carton.number} closed."
        except DomainError as exc:
            db.session.rollback()
            error = exc
        for name in ("sku", "lot", "serial", "qty"):
            form.pop(name, None)
    view = advance(FLOW, db.session, form, actor)
    if message and view.error is None:
        view.result = inventory.Result("close", [], messages=[message])
        view.feedback = "success"
    if error is not None:
        view.error, view.feedback = error, "error"
    db.session.rollback()
    return render_flow(view, **_panel(view))


@bp.post("/replay")
def replay():
    """A pack scan queued on the device while offline, sent again when the connection is
    back. Same rules and idempotency key as online, so a replay sent twice applies once."""
    body = request.get_json(silent=True)
    fields = ("order", "sku", "qty", "lot", "serial", "expiry", "key")
    if not isinstance(body, dict) or set(body) - set(fields) or not body.get("key"):
        return jsonify(ok=False, code="validation_error",
                       message="Send order, sku, qty, lot, serial, expiry and key."), 422
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    try:
        from .inventory import _expiry

        result = domain.pack(db.session, order_number=body.get("order"), sku=body.get("sku"),
                             qty=body.get("qty") or 1, lot=body.get("lot") or None,
                             serial=body.get("serial") or None, actor=actor,
                             idempotency_key=str(body["key"]), expiry=_expiry(body))
    except DomainError as exc:
        db.session.rollback()
        return jsonify(ok=False, code=exc.code, message=exc.message), exc.status
    return jsonify(ok=True, replayed=result.replayed, messages=result.messages)


@bp.get("/<number>/slip")
def slip(number):
    order = db.session.scalar(db.select(Order).where(Order.number == number.upper()))
    if order is None:
        abort(404)
    return render_template("packing/slip.html", order=order)
