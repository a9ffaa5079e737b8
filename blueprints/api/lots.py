"""Lot trace over the API: where a lot is now, where it went, holds."""

from flask import jsonify, request

from lotline import lots as domain
from lotline.extensions import db

from . import EXTRA_SCHEMAS, operation

EXTRA_SCHEMAS["LotTrace"] = {"type": "object", "properties": {
    "lot": {"type": "string"},
    "held": {"type": "boolean"},
    "on_hand_qty": {"type": "integer"},
    "on_hand": {"type": "array", "items": {"type": "object", "properties": {
        "location": {"type": "string"}, "sku": {"type": "string"},
        "expiry": {"type": ["string", "null"]}, "qty": {"type": "integer"}}}},
    "shipments": {"type": "array", "items": {"type": "object", "properties": {
        "source": {"type": "string", "enum": ["picked", "recorded at pack"]},
        "order": {"type": "string"}, "customer": {"type": "string"},
        "customer_ref": {"type": "string"}, "status": {"type": "string"},
        "shipped_at": {"type": ["string", "null"]}, "sku": {"type": "string"},
        "qty": {"type": "integer"}, "mismatch": {"type": "boolean"},
        "note": {"type": "string"}}}},
    "holds": {"type": "array", "items": {"type": "object", "properties": {
        "reason": {"type": "string"}, "held_at": {"type": "string"},
        "held_by": {"type": ["string", "null"]},
        "released_at": {"type": ["string", "null"]}}}},
}}


def _iso(value):
    return value.isoformat() if value is not None else None


# The trace names the customers a lot went to: a supervisor's, as the Lot lookup screen is.
@operation("GET", "/lots/<lot>", summary="Trace a lot: where it is now and where it went",
           role="supervisor", response="LotTrace", errors=(404,),
           params=[{"name": "sku", "in": "query", "schema": {"type": "string"},
                    "description": "Only this item's lot of that number"}])
def get_lot(lot):
    t = domain.trace(db.session, lot, request.args.get("sku") or None)
    return jsonify({
        "lot": t.number, "held": t.held, "on_hand_qty": t.on_hand_qty,
        "on_hand": [{"location": r.location, "sku": r.sku, "expiry": _iso(r.expiry),
                     "qty": r.qty} for r in t.on_hand],
        "shipments": [{"source": s.source, "order": s.order, "customer": s.customer,
                       "customer_ref": s.customer_ref, "status": s.status,
                       "shipped_at": _iso(s.shipped_at), "sku": s.sku, "qty": s.qty,
                       "mismatch": s.mismatch, "note": s.note} for s in t.shipments],
        "holds": [{"reason": h.reason, "held_at": _iso(h.held_at),
                   "held_by": h.held_by.username if h.held_by else None,
                   "released_at": _iso(h.released_at)} for h in t.holds],
    })
