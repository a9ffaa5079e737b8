"""Cartons: the order's open carton (opened by its first pack line), closed with its
weight."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .. import orders as orders_domain
from ..errors import DomainError, ValidationError
from ..models import Carton, utcnow

_OPEN = (select(Carton).where(Carton.order_id == bindparam("order_id"), Carton.status == "open")
         .order_by(Carton.id).limit(1))  # built once: every pack scan
_LAST = select(func.max(Carton.number)).where(Carton.order_id == bindparam("order_id"))


def open_carton_of(session: Session, order) -> Carton | None:
    return session.scalar(_OPEN, {"order_id": order.id})


def open_carton(session: Session, order, station: str = "") -> Carton:
    """The order's open carton, opened now if there is none."""
    carton = open_carton_of(session, order)
    if carton is None:
        last = session.scalar(_LAST, {"order_id": order.id})
        carton = Carton(order_id=order.id, number=(last or 0) + 1, status="open",
                        station=station[:64])
        session.add(carton)
        session.flush()  # its id, for the pack line
    return carton


def close_carton(session: Session, *, order_number, weight_grams=None) -> Carton:
    order = orders_domain.get_order(session, order_number)
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
    session.flush()
    return carton
