"""Lot trace over the API: where a lot is now, where it went, holds."""

from typing import Literal

from lotline import lots as domain
from lotline.extensions import db

from . import operation, query_arg
from .bodies import Answer, query


class OnHand(Answer):
    location: str
    sku: str
    expiry: str | None
    qty: int


class Shipment(Answer):
    source: Literal["picked", "recorded at pack"]
    order: str
    customer: str
    customer_ref: str
    status: str
    shipped_at: str | None
    sku: str
    qty: int
    mismatch: bool
    note: str


class Hold(Answer):
    reason: str
    held_at: str
    held_by: str | None
    released_at: str | None


class LotTrace(Answer):
    lot: str
    held: bool
    on_hand_qty: int
    on_hand: list[OnHand]
    shipments: list[Shipment]
    holds: list[Hold]


def _iso(value):
    return value.isoformat() if value is not None else None


# The trace names the customers a lot went to: a supervisor's, as the Lot lookup screen is.
@operation("GET", "/lots/<path:lot>", summary="Trace a lot: where it is now and where it went",
           role="supervisor", response=LotTrace, errors=(404,),
           params=[query("sku", "Only this item's lot of that number")])
def get_lot(lot):
    t = domain.trace(db.session, lot, query_arg("sku"))
    return {
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
    }
