"""Cartons: the order's open carton (opened by its first pack line), closed with its
weight."""

from __future__ import annotations

from sqlalchemy import Row, bindparam, func, insert, select
from sqlalchemy.orm import Session

from .. import orders as orders_domain
from ..db import forget_found, found_once
from ..errors import DomainError, ValidationError
from ..models import Carton, utcnow

# Every pack scan reads the open carton (its id and number: all a pack line and the panel
# need) and a carton's first pack opens it: Core statements, as the pack line's own.
_OPEN = (select(Carton.id, Carton.number)
         .where(Carton.order_id == bindparam("order_id"), Carton.status == "open")
         .order_by(Carton.id).limit(1))
_LAST = select(func.max(Carton.number)).where(Carton.order_id == bindparam("order_id"))
OPEN_CARTON = "open carton"  # found_once's kind for an order's open carton
_OPEN_NEW = insert(Carton.__table__).returning(Carton.__table__.c.id, Carton.__table__.c.number)


def open_carton_of(session: Session, order) -> Row | None:
    """The order's open carton (its id and number), if it has one: read once per transaction
    (a pack scan's steps, the pack and the panel after it all ask); opening or closing one
    forgets it, and so does taking a row lock (PostgreSQL: lotline.db.locked_once)."""
    return found_once(session, OPEN_CARTON, order.id, lambda: session.connection().execute(
        _OPEN, {"order_id": order.id}).first())


def open_carton(session: Session, order, station: str = "") -> Row:
    """The order's open carton (its id and number), opened now if there is none."""
    carton = open_carton_of(session, order)
    if carton is None:
        connection = session.connection()
        last = connection.execute(_LAST, {"order_id": order.id}).scalar()
        carton = connection.execute(_OPEN_NEW, {
            "order_id": order.id, "number": (last or 0) + 1, "status": "open",
            "station": station[:64]}).one()
        forget_found(session, OPEN_CARTON, order.id)
    return carton


def close_carton(session: Session, *, order_number, weight_grams=None) -> Carton:
    """Close the order's open carton. The order is locked first (PostgreSQL), as a pack
    locks it, so a pack cannot put its line into a carton closed meanwhile."""
    order = orders_domain.lock_order(session, order_number)
    carton = next((c for c in order.cartons if c.status == "open"), None)
    if carton is None:
        raise DomainError("no_open_carton", f"Order {order.number} has no open carton.")
    if not carton.lines:
        raise DomainError("carton_empty", f"Carton {carton.number} is empty; pack something "
                          f"into it first.")
    if weight_grams not in (None, ""):
        try:
            weight = int(str(weight_grams).strip())
        except ValueError:
            raise ValidationError("Weight is a whole number of grams.", field="weight") from None
        if not 0 < weight <= 1_000_000:
            raise ValidationError("Weight is 1 to 1,000,000 grams.", field="weight")
        carton.weight_grams = weight
    carton.status = "closed"
    carton.closed_at = utcnow()
    forget_found(session, OPEN_CARTON, order.id)
    session.flush()
    return carton
