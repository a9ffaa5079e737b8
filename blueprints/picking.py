"""The pick screen: directed to a location, scan it and the item, confirm the quantity.
No lot scan: the lot is assumed from the inventory record (spec, Lot Tracking).

What a picker does with a scanner in hand (every step by scan; the buttons do the same):
  1. "Scan the order", or scan CMD:NEXT for the oldest order waiting.
  2. The screen says where to go: "Go to A-01-02: pick 3 × VIT-C-500 · lot VC24B07".
     Scan the location's label (another location that holds the item is accepted too; one
     that holds nothing to pick for the order is refused at once, saying where to go).
     CMD:SKIP sends the picker to another location.
  3. Scan the item. If that stock has no lot on record, the pick is blocked: cycle count
     the location, or scan CMD:SKIP to be sent elsewhere.
  4. Quantity is filled in with what to pick there; Enter (or CMD:CONFIRM) confirms, a
     typed number replaces it. Found fewer? Scan CMD:SHORT, then type what was there (the
     location goes on Needs cycle count).
  5. The next task appears; when nothing is left the order is picked and the screen asks
     for the next order. A line with no stock anywhere is recorded short with CMD:SHORT.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lotline import commands, inventory
from lotline import orders as orders_domain
from lotline import picking as domain
from lotline.extensions import db
from lotline.items import find_item

from . import accepts, role_blueprint
from .scancommands import Command, Outcome
from .scanflow import Flow, Step, View, advance, locking, preview, render_flow
from .scantext import without
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
    domain.check_left_to_pick(session, order)
    return order.number


def _location(session, raw, state):
    order = orders_domain.get_order(session, state["order"])
    loc = inventory.active_location(session, raw)
    domain.check_pick_location(session, order, loc, _skip(state, order.number))
    return loc.code


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


def _qty_prompt(session, view: View) -> str:
    if view.extra.get("short"):
        return "Found fewer: type how many you found (0 if none)"
    return "Confirm the quantity picked"


def _commit(session, state, actor, key, options):
    return domain.pick(session, order_number=state["order"], location=state["location"],
                       sku=state["sku"], qty=state["qty"], actor=actor, idempotency_key=key,
                       found_short=bool(options.get("short")))


def _task(session, view: View):
    """The task the screen shows for the order on it (None when it is picked)."""
    order = orders_domain.get_order(session, view.state["order"])
    return domain.next_task(session, order, _skip(view.extra, order.number))


def _next(session, view, form, actor, text) -> Outcome:
    return Outcome(MultiDict({"order": domain.next_order_to_pick(session).number}))


def _may_skip(session, view) -> bool:
    if "order" not in view.state:
        return False
    task = _task(session, view)
    return task is not None and task.location is not None


def _skip_location(session, view, form, actor, text) -> Outcome:
    order = view.state["order"]
    codes = sorted(_skip(form, order) | {_task(session, view).location.code})
    out = without(form, "location", "sku", "qty", "short")
    out["skip"] = f"{order}|{','.join(codes)}"
    return Outcome(out)


def _may_short(session, view) -> bool:
    if "order" not in view.state:
        return False
    if view.current.quantity:
        return True
    task = _task(session, view)
    return task is not None and task.location is None


def _short(session, view, form, actor, text) -> Outcome:
    """At Quantity: found fewer (type what was there). With no stock anywhere: record the
    line short."""
    if view.current.quantity:
        out = without(form, "qty")
        out["short"] = "1"
        return Outcome(out)
    task = _task(session, view)
    result = domain.short_line(session, order_number=view.state["order"],
                               sku=task.line.item.sku, actor=actor,
                               idempotency_key=form.get("idem"))
    out = without(form, "location", "sku", "qty", "idem", "short")
    return Outcome(out, result=result)


def _finished(session, view) -> bool:
    """The order is picked: the screen asks for the next one (its skips forgotten)."""
    order = orders_domain.get_order(session, view.state["order"])
    return domain.next_task(session, order) is None


def _panel(session, view: View) -> dict:
    """The order on screen; after its last pick, that order, shown as picked."""
    number = view.state.get("order") or getattr(view.result, "reference", None)
    if not number:
        return {"order": None, "task": None}
    order = orders_domain.get_order(session, number)
    return {"order": order,
            "task": domain.next_task(session, order, _skip(view.extra, order.number))}


FLOW = Flow("pick", "Pick", "picking.index", [
    Step("order", "Order", "Scan the order, or CMD:NEXT for the next one waiting", _order),
    Step("location", "Location", "Scan the location shown", _location, reads=("skip",)),
    Step("sku", "Item", "Scan the item", _item),
    Step("qty", "Quantity", _qty_prompt, _qty, quantity=True,
         default=_default_qty, info=_lot_line),
], _commit, "Picked", keep=("order",), panel="picking/_panel.html",
    read_panel=_panel, carry=("skip", "short"),
    lock=locking(orders_domain.lock_location_and_order, "location", "order"),
    per_scan=("short",), finished=_finished,
    redo_on={"pick_blocked": "location", "insufficient_quantity": "location"},
    commands=[
        Command(commands.NEXT, "for the next order waiting",
                lambda session, view: view.current.name == "order", _next),
        Command(commands.SKIP, "to skip this location", _may_skip, _skip_location),
        Command(commands.SHORT, "if you found fewer (or none are left)", _may_short, _short),
    ])


@bp.route("", methods=["GET", "POST"])
@accepts("csrf_token", *FLOW.fields)
def index():
    actor = inventory.Actor(current_user._get_current_object(), current_station())
    if request.method == "GET":  # a link may prefill the order; only a POST commits
        view = preview(FLOW, db.session, request.args, actor)
    else:
        view = advance(FLOW, db.session, request.form, actor)
    return render_flow(view)
