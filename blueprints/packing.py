"""The pack station: scan the order, then each item; when Require Lot/Serial at Pack is on
and the item requires it, a Lot field (and one Serial field per unit) is swapped in and the
pack line cannot be confirmed without it.

What a packer does with a scanner in hand (every step by scan; the buttons do the same):
  1. "Scan the order", or scan CMD:NEXT: the oldest picked order no other station has
     open. The order's lines appear with what is picked and packed.
  2. "Scan the item": an item not on the order, or one already fully packed, is refused.
  3. If the item needs it now: "Scan the lot" (it need not match the picked lot: a
     different one is recorded, flagged, and never blocks), then for serial items
     "Scan the serial" (one unit per serial; a serial already packed is refused).
  4. "Quantity" (not for serial items): 1 is filled in, scanning the item again adds one,
     a typed number replaces it, Enter confirms. The line joins the open carton.
  5. CMD:CLOSE closes the carton (a weight typed in its field goes with it); the next item
     opens a new one. When the order's last unit is packed the screen says so and asks for
     CMD:CLOSE; then it asks for the next order (scan it, or CMD:NEXT).
"""

from __future__ import annotations

from flask import abort, current_app, jsonify, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lotline import commands, inventory, lot_gate, pack_gate, users
from lotline import orders as orders_domain
from lotline import pack_station as station
from lotline import packing as domain
from lotline.errors import DomainError, NotFound
from lotline.extensions import db
from lotline.items import find_item
from lotline.slip import packing_slip

from . import accepts, packoffline, role_blueprint
from .scancommands import Command, Note, Outcome
from .scanflow import Flow, Step, View, advance, locking, preview, render_flow
from .scantext import expand_gs1, scanned_expiry
from .station import current_station
from .trusted_device import trusted_devices

bp = role_blueprint("packing", __name__, "packer", url_prefix="/pack")


def _order(session, raw, state):
    return station.check_packable(session, raw)


def _line(session, state, raw=None):
    order = orders_domain.get_order(session, state["order"])
    return domain.order_line(session, order, raw or state["sku"])


def _item(session, raw, state):
    line = _line(session, state, raw)
    domain.check_room(line, 1, line.item.sku, state["order"])
    return line.item.sku


def _needs(session, state):
    return domain.needs(session, find_item(session, state["sku"]))


def _lot(session, raw, state):
    # whether it is needed, and may leave, is the pack's to say (a supervisor may override)
    return inventory.clean_lot(raw)


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
    return domain.pack(session, order_number=state["order"], sku=state["sku"], actor=actor,
                       qty=state.get("qty", 1), lot=state.get("lot"),
                       serial=state.get("serial"), idempotency_key=key,
                       expiry=scanned_expiry(options), unneeded="drop",
                       override=options.get("override"))


def _step_up(session, form) -> dict:
    """A supervisor at the packer's station: signs in again, says why the lot may leave."""
    user = users.step_up(session, form.get("override_user"), form.get("override_password"),
                         hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                         devices=trusted_devices())
    return {"override": pack_gate.supervisor_override(user, form.get("override_reason"))}


def _at_pack(session, view: View) -> station.OrderAtPack:
    """The order on screen at pack, read once per screen drawn (prompt, commands)."""
    number = view.state["order"]
    if view.memo.get("at_pack", (None,))[0] != number:
        view.memo["at_pack"] = (number, station.order_at_pack(session, number))
    return view.memo["at_pack"][1]


def _item_prompt(session, view: View) -> str:
    state = _at_pack(session, view)
    if state.waiting_for_close:
        return f"Order {state.number} is complete. Scan {commands.CLOSE} to close carton " \
               f"{state.open_carton}"
    return "Scan the item"


def _opened(session, number, actor) -> None:
    station.open_at_station(session, number, actor)


def _left(session, kept, actor) -> None:
    station.leave(session, kept["order"], actor)


def _switch(session, raw, state, actor):
    """An order number scanned at the item step opens that order, when the one on screen
    may be left (:func:`lotline.pack_station.check_may_open_another`)."""
    try:
        number = orders_domain.get_order(session, raw).number
    except NotFound:
        return None
    if number == state["order"]:
        return None
    station.check_may_open_another(station.order_at_pack(session, state["order"]))
    station.check_packable(session, number)
    station.open_at_station(session, number, actor, leaving=state["order"])
    return MultiDict({"order": number})


def _may_next(session, view) -> bool:
    if view.current.name == "order":
        return True
    if view.current.name == "sku":
        station.check_may_open_another(_at_pack(session, view))
        return True
    return False


def _next(session, view, form, actor, text) -> Outcome:
    number = station.next_order_to_pack(session, actor, leaving=view.state.get("order"))
    return Outcome(MultiDict({"order": number}),
                   result=Note(f"Order {number} is open at this station."))


def _may_close(session, view) -> bool:
    return "order" in view.state and _at_pack(session, view).open_carton is not None


def _close(session, view, form, actor, text) -> Outcome:
    number = view.state["order"]
    carton, done = station.close_carton(session, number, actor, form.get("weight") or None)
    if not done:
        return Outcome(MultiDict({"order": number}), result=Note(
            f"Carton {carton} closed. The next item goes into a new carton."))
    return Outcome(MultiDict(), result=Note(
        f"Carton {carton} closed. Order {number} is packed: print its packing slip. Scan the "
        f"next order, or {commands.NEXT}.", reference=number))


def _finished(session, view) -> bool:
    """The order is packed and its last carton closed: the screen asks for the next one."""
    return _at_pack(session, view).done


def _panel(session, view: View) -> dict:
    """The order's panel, read after the scan (after its writes when it commits: on
    PostgreSQL in its unit of work, on SQLite after its commit); after the order's last
    carton is closed, that order (shown as packed)."""
    number = str(view.state.get("order") or getattr(view.result, "reference", "") or "")
    panel = domain.pack_panel(session, number) if number.strip() else None
    if panel is None:
        return {"order": None, "lots": {}, "carton": None, "needs": {}, "offline": None}
    return {"order": panel.order, "lots": panel.lots, "carton": panel.carton,
            "needs": panel.needs, "offline": _offline(view, panel)}


def _offline(view: View, panel) -> dict | None:
    """What the device needs to queue scans of the order on screen while offline (only while
    the flow is on that order: a packed order's screen asks for the next one)."""
    if view.state.get("order") != panel.order.number:
        return None
    prompts = {step.name: step.prompt if isinstance(step.prompt, str)
               else step.prompt(db.session, view)
               for step in FLOW.steps if step.name in packoffline.OFFLINE_STEPS}
    return packoffline.offline_data(panel, prompts)


FLOW = Flow("pack", "Pack", "packing.index", [
    Step("order", "Order", "Scan the order, or CMD:NEXT for the next one waiting", _order,
         opened=_opened),
    Step("sku", "Item", _item_prompt, _item),
    Step("lot", "Lot", "Scan the lot on the item", _lot,
         applies=lambda s, st: "sku" in st and (
             _needs(s, st).lot or domain.asks_lot(s, st["order"], st["sku"])),
         info=_picked_info),
    Step("serial", "Serial", "Scan the serial of this unit", _serial,
         applies=lambda s, st: "sku" in st and _needs(s, st).serial, info=_picked_info),
    Step("qty", "Quantity", "How many? Scan the item again to add one, or type a number",
         _qty, quantity=True, info=_picked_info,
         applies=lambda s, st: "sku" in st and not _needs(s, st).serial),
], _commit, "Packed", keep=("order",), panel="packing/_panel.html",
    read_panel=_panel, finished=_finished, lock=locking(orders_domain.lock_order, "order"),
    override={code: "supervisor" for code in lot_gate.REFUSALS}, step_up=_step_up,
    switch=_switch, leave=_left, commands=[
        Command(commands.CLOSE, "to close the carton", _may_close, _close),
        Command(commands.NEXT, "for the next order waiting", _may_next, _next),
    ])


@bp.route("", methods=["GET", "POST"])
@accepts("csrf_token", "weight", "override", "override_user", "override_password",
         "override_reason", *FLOW.fields)
def index():
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    if request.method == "GET":  # a link may prefill the order; only a POST commits
        view = preview(FLOW, db.session, request.args, actor)
    else:
        view = advance(FLOW, db.session, request.form, actor)
    return render_flow(view)


@bp.post("/replay")
@accepts(*packoffline.FIELDS)
def replay():
    """A pack scan queued on the device while offline, sent again when the connection is
    back (:mod:`blueprints.packoffline`). Same rules and idempotency key as online, so a
    replay sent twice applies once. A field of the wrong type is refused, never coerced."""
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    try:
        body = packoffline.replay_body(request.get_json(silent=True))
        body = packoffline.with_label(
            body, lambda form, extra: expand_gs1(FLOW, db.session, form, extra))
        result = domain.pack(db.session, order_number=body["order"], sku=body["sku"],
                             qty=body["qty"] or 1, lot=body["lot"], serial=body["serial"],
                             actor=actor, idempotency_key=body["key"], expiry=body["expiry"])
    except DomainError as exc:
        db.session.rollback()
        return jsonify(ok=False, code=exc.code, message=exc.message,
                       field=exc.details.get("field")), exc.status
    # Another user's submission under the same key: "already done", its summary only.
    extra = {"code": result.code} if result.code else {}
    return jsonify(ok=True, replayed=result.replayed, messages=result.messages, **extra)


@bp.get("/<number>/slip")
@accepts()
def slip(number):
    try:
        order, cartons = packing_slip(db.session, number)
    except NotFound:
        abort(404)
    return render_template("packing/slip.html", order=order, cartons=cartons)
