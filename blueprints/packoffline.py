"""The pack screen without a connection: what the page carries for the device, and the
queued scan read back when it is sent to ``/pack/replay``.

Offline, the tablet queues each scan (static/js/offline-pack.js, offline-queue.js). It makes
two checks only, on data the server rendered into the page (:func:`offline_data`): is the
item scanned on the order, and are units of it left. A GS1 label or Digital Link is queued
unchecked. Every rule is applied when the queue is replayed, by :func:`lotline.packing.pack`,
as online; the device holds no copy of a rule or of its message.
"""

from __future__ import annotations

import datetime as dt

from werkzeug.datastructures import MultiDict

from lotline import commands, gs1
from lotline import packing as domain
from lotline.errors import DomainError, ValidationError
from lotline.items import scans_naming

# The body the previous release's queue sends (``order, sku, qty, lot, serial, expiry,
# key``) stays accepted as it is; fields are added, never renamed. ``scan``: a GS1 label or
# Digital Link scanned offline, sent as scanned (the server reads it, not the device).
TEXT = ("lot", "serial", "expiry", "scan")
FIELDS = ("order", "sku", "qty", *TEXT, "key")
OFFLINE_STEPS = ("sku", "lot", "serial")  # the steps the device draws; one unit per scan


def offline_data(panel, prompts: dict[str, str]) -> dict:
    """What the device checks an offline scan against: the scans that name each line's item,
    the units left to pack, the steps that follow the item (lot, serial), and the domain's
    own refusal for one unit more than are left."""
    lines, number = [], panel.order.number
    for line in panel.order.lines:
        left, sku = domain.packable(line), line.item.sku
        need = panel.needs[line.id]
        try:
            domain.check_room(line, max(left, 0) + 1, sku, number)
            full = None  # unreachable: one more than are left has no room
        except DomainError as exc:
            full = {"code": exc.code, "message": exc.message}
        lines.append({"sku": sku, "codes": scans_naming(sku, line.item.gtin), "left": left,
                      "then": [name for name in ("lot", "serial") if getattr(need, name)],
                      "full": full})
    return {
        "order": number, "lines": lines, "prompts": prompts,
        "gs1": gs1.LOOKS_LIKE.pattern,
        "commands": {"prefix": commands.PREFIX, "cancel": commands.CANCEL,
                     "confirm": commands.CONFIRM},
        "refusals": {
            "no_line": {"code": "not_on_order", "message": (
                f"{{scan}} is not an item on order {number}. Put it aside and scan an "
                f"item from the order.")},
            "offline": {"code": "offline", "message": (
                "This needs the connection. Keep packing: scans are queued; do this when "
                "the connection is back.")},
            "not_stored": {"code": "queue_failed", "message": (
                "This device could not store the scan. Put the item aside and scan it again "
                "when the connection is back.")},
        },
    }


def replay_body(body) -> dict:
    """The queued scan, its types checked and nothing coerced: ``order``, ``key`` text;
    ``sku`` text (or null beside a ``scan``); ``qty`` a whole number of at least 1, or null
    for the label's count or 1; ``lot``, ``serial``, ``expiry`` (ISO date), ``scan`` text
    or null. A wrong type raises a ValidationError naming the field."""
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object: order, sku, qty, lot, serial, expiry, key.")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(f"{unknown[0]} is not a field of a queued pack scan.",
                              field=unknown[0])
    for name in ("order", "key"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise ValidationError(f"{name} is required, as text.", field=name)
    for name in TEXT:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationError(f"{name} is text or null.", field=name)
    sku = body.get("sku")
    if not isinstance(sku, str) and not (sku is None and body.get("scan")):
        raise ValidationError("sku is required, as text (or null beside a scan).",
                              field="sku")
    qty = body.get("qty")
    if qty is not None and (type(qty) is not int or qty < 1):
        raise ValidationError("qty is a whole number of at least 1, or null.", field="qty")
    expiry = body.get("expiry") or None
    if expiry is not None:
        try:
            expiry = dt.date.fromisoformat(expiry)
        except ValueError:
            raise ValidationError("expiry is a date (YYYY-MM-DD) or null.",
                                  field="expiry") from None
    return {"order": body["order"], "sku": sku, "qty": qty, "lot": body.get("lot") or None,
            "serial": body.get("serial") or None, "expiry": expiry,
            "scan": body.get("scan") or None, "key": body["key"]}


def with_label(values: dict, expand) -> dict:
    """``values`` with the queued label read as the pack screen reads one: scanned at the
    first step still empty (item, lot, serial, quantity), it fills that step and every later
    empty one, and its expiry rides along. ``expand``: the scan engine's
    :func:`blueprints.scantext.expand_gs1` for the pack flow."""
    if values["scan"] is None:
        return values
    form = MultiDict({name: str(values[name]) for name in ("order", "sku", "lot", "serial",
                                                            "qty") if values[name] is not None})
    empty = next((name for name in ("sku", "lot", "serial", "qty") if name not in form), "qty")
    form[empty] = values["scan"]
    extra: dict = {}
    form = expand(form, extra)
    qty = form.get("qty")
    return {**values, "sku": form.get("sku"), "lot": form.get("lot") or None,
            "serial": form.get("serial") or None,
            "qty": int(qty) if qty and qty.isdigit() else values["qty"],
            "expiry": dt.date.fromisoformat(extra["expiry"]) if extra.get("expiry")
            else values["expiry"]}
