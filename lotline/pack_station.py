"""The pack station's hold on an order: which station has it open, handing the next one
out (CMD:NEXT), and when a station may leave it.

An order is open at the station that scanned it, was handed it, or packed into it last, for
``OPEN_AT_STATION_FOR``; CMD:NEXT never hands out an order another station has open. A
station leaves an order when its last carton closes, when it opens another, or by
CMD:CANCEL; it may not leave a complete order with a carton still open (it could not ship).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import orders as orders_domain
from . import packing
from .commands import CANCEL, CLOSE, NEXT
from .db import run_in_transaction
from .errors import DomainError
from .models import Order, utcnow

OPEN_AT_STATION_FOR = dt.timedelta(minutes=30)  # then another station's CMD:NEXT may take it
PACKABLE = ("picked", "packing")


@dataclass
class OrderAtPack:
    """Where an order stands at the pack station."""

    number: str
    status: str
    open_carton: int | None  # its number
    packed: int
    wanted: int

    @property
    def waiting_for_close(self) -> bool:
        """Every unit is packed; the last carton is still open."""
        return self.status == "packed" and self.open_carton is not None

    @property
    def done(self) -> bool:
        """Nothing is left to do with it at pack (packed and closed, shipped, cancelled)."""
        return self.status in ("packed", "shipped", "cancelled") and self.open_carton is None


def order_at_pack(session: Session, number) -> OrderAtPack:
    """Where the order stands: from the order with its lines (read once per transaction,
    :func:`lotline.orders.get_order`) and its open carton (likewise), which a pack scan's
    steps, its pack and the panel drawn after it read anyway."""
    order = orders_domain.get_order(session, number)
    carton = packing.open_carton_of(session, order)
    return OrderAtPack(order.number, order.status, carton.number if carton else None,
                       sum(line.qty_packed for line in order.lines),
                       sum(line.qty - line.qty_short for line in order.lines))


def check_packable(session: Session, number) -> str:
    """The order's number, when a station may open it at pack: not cancelled or shipped,
    and not packed with its cartons closed (nothing is left to do with it there)."""
    state = order_at_pack(session, number)
    if state.status in ("cancelled", "shipped"):
        raise DomainError("order_closed", f"Order {state.number} is {state.status}.",
                          field="order")
    if state.done:
        raise DomainError("order_packed", f"Order {state.number} is packed and its cartons "
                          f"are closed. Scan the next order, or {NEXT}.", field="order")
    return state.number


def check_may_close_up(state: OrderAtPack) -> None:
    """A complete order's last carton must be closed before the station moves on."""
    if state.waiting_for_close:
        raise DomainError("carton_open", f"Order {state.number} is complete: scan {CLOSE} "
                          f"to close carton {state.open_carton} first.")


def check_may_open_another(state: OrderAtPack) -> None:
    """The station may open another order instead of the one on screen (``state``): that
    one is untouched, or complete and closed. Otherwise says what to do."""
    check_may_close_up(state)
    if state.packed and not state.done:
        raise DomainError("order_in_progress", f"Order {state.number} is not finished: "
                          f"{state.packed} of {state.wanted} packed. Pack the rest, or scan "
                          f"{CANCEL} to leave it for later.")


def _free_for(station: str):
    """Orders no other station has open (or whose station has not worked on it lately)."""
    return or_(Order.packing_station.is_(None), Order.packing_station == station,
               Order.packing_since < utcnow() - OPEN_AT_STATION_FOR)


def next_order_to_pack(session: Session, actor, leaving: str | None = None) -> str:
    """Open the oldest picked, not yet packed order that no other station has open at this
    actor's station, and return its number. Two stations asking at once get two orders:
    the open is a conditional UPDATE, and the loser of a race for one order (SQLite's write
    lock, PostgreSQL's row lock and re-check) takes the next."""
    if not actor.station:
        raise DomainError("station_required", "Set this device's station first: scan its "
                          "station sheet (CMD:STATION:…). Then scan CMD:NEXT again.")
    station = actor.at

    def work():
        if leaving:
            _close_at(session, leaving, station)
        free = (Order.status.in_(PACKABLE), _free_for(station))
        query = (select(Order.id, Order.number).where(*free, Order.number != (leaving or ""))
                 .order_by(Order.created_at, Order.id).limit(10))
        for row in session.execute(query).all():
            taken = session.execute(
                update(Order).where(Order.id == row.id, *free)
                .values(packing_station=station, packing_since=utcnow())
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:
                return row.number
        raise DomainError("no_orders_to_pack", "No picked order is waiting to be packed. "
                          "Scan an order's number to open it.", field="order")

    return run_in_transaction(session, work)


def open_at_station(session: Session, number: str, actor, leaving: str | None = None) -> None:
    """The station scanned this order: it is open here now (taken over from any other)."""
    station = actor.at

    def work():
        if leaving:
            _close_at(session, leaving, station)
        session.execute(update(Order).where(Order.number == number)
                        .values(packing_station=station, packing_since=utcnow())
                        .execution_options(synchronize_session=False))

    run_in_transaction(session, work)


def leave(session: Session, number: str, actor) -> None:
    """The station leaves the order (CMD:CANCEL at its first step), unless it is complete
    with its last carton open."""
    check_may_close_up(order_at_pack(session, number))
    run_in_transaction(session, lambda: _close_at(session, number, actor.at))


def close_carton(session: Session, number: str, actor, weight_grams=None) -> tuple[int, bool]:
    """Close the order's open carton; when that was its last, the station leaves the order.
    One unit of work. Returns the carton's number and whether the order is done."""

    def work():
        carton = packing.close_carton(session, order_number=number, weight_grams=weight_grams)
        done = carton.order.status == "packed"
        if done:
            _close_at(session, carton.order.number, actor.at)
        return carton.number, done

    return run_in_transaction(session, work)


def _close_at(session: Session, number: str, station: str) -> None:
    session.execute(update(Order).where(Order.number == number,
                                        Order.packing_station == station)
                    .values(packing_station=None, packing_since=None)
                    .execution_options(synchronize_session=False))
