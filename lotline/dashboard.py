"""The supervisor's dashboard: packs in progress, orders waiting, and the exceptions that
need someone (stock to count, picks blocked or short, lots mismatched at pack, lots held).

Each exception is a count and the first few cases; the screens that resolve them show the
rest. Orders that are shipped or cancelled are done with, so their short lines and pack
mismatches no longer wait on anyone (the order's own page and the lot trace still show them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import lot_gate
from .inventory import needs_cycle_count
from .lots import held_lots
from .models import (
    Carton,
    Inventory,
    Item,
    Lot,
    Order,
    OrderLine,
    PackLine,
)
from .picking import next_task
from .settings import warehouse_today
from .stock_rules import stock_without_lot

WAITING_STATUSES = ("open", "picking", "picked", "packing")
DONE_STATUSES = ("shipped", "cancelled")
SHOWN = 5  # cases listed per exception; the count says how many there are


@dataclass
class StationPacks:
    """Open cartons at one pack station, with the orders they belong to."""

    station: str
    cartons: int
    orders: list[str]


@dataclass
class Case:
    """One exception: what to say, and what the link to resolve it needs (an order or lot)."""

    text: str
    order: str = ""
    lot: str = ""


@dataclass
class ExceptionList:
    key: str
    title: str
    count: int
    cases: list[Case] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(self.count - len(self.cases), 0)


@dataclass
class Exceptions:
    needs_count: ExceptionList
    blocked_picks: ExceptionList
    short_picks: ExceptionList
    lot_mismatches: ExceptionList
    held_lots: ExceptionList
    intercepts: ExceptionList

    def all(self) -> list[ExceptionList]:
        return [self.intercepts, self.needs_count, self.blocked_picks, self.short_picks,
                self.lot_mismatches, self.held_lots]

    @property
    def total(self) -> int:
        return sum(e.count for e in self.all())


def packs_in_progress(session: Session) -> list[StationPacks]:
    """Open cartons grouped by the station that opened them (orders not cancelled)."""
    rows = session.execute(
        select(Carton.station, Order.number).join(Order, Order.id == Carton.order_id)
        .where(Carton.status == "open", Order.status.not_in(DONE_STATUSES))
        .order_by(Carton.station, Order.number))
    stations: dict[str, StationPacks] = {}
    for station, number in rows:
        entry = stations.setdefault(station, StationPacks(station, 0, []))
        entry.cartons += 1
        if number not in entry.orders:
            entry.orders.append(number)
    return list(stations.values())


def orders_waiting(session: Session) -> dict[str, int]:
    """How many orders are in each not-yet-packed status (zero included)."""
    counts = dict(session.execute(
        select(Order.status, func.count()).where(Order.status.in_(WAITING_STATUSES))
        .group_by(Order.status)).all())
    return {status: counts.get(status, 0) for status in WAITING_STATUSES}


def needs_count_exception(session: Session) -> ExceptionList:
    rows = needs_cycle_count(session)
    cases = [Case(f"{r.location.code} · {r.item.sku} · {r.qty}: {r.reason}") for r in rows]
    return ExceptionList("needs_count", "Needs cycle count", len(rows), cases[:SHOWN])


def blocked_picks(session: Session) -> ExceptionList:
    """Orders whose next pick task is blocked (lot-tracked stock without a lot)."""
    # Only an order with a line of a lot-tracked item that has lot-less stock somewhere can
    # be blocked; next_task (the picker's own rule) decides for those few.
    lotless = select(Inventory.item_id).where(stock_without_lot()).scalar_subquery()
    candidates = session.scalars(
        select(Order).where(Order.status.not_in(DONE_STATUSES), Order.id.in_(
            select(OrderLine.order_id).join(Item, Item.id == OrderLine.item_id)
            .where(Item.require_lot, OrderLine.item_id.in_(lotless),
                   OrderLine.qty > OrderLine.qty_picked + OrderLine.qty_short)))
        .order_by(Order.id).options(selectinload(Order.lines).selectinload(OrderLine.item)))
    cases = []
    for order in candidates:
        task = next_task(session, order)
        if task is not None and task.blocked:
            cases.append(Case(f"{order.number} · {task.line.item.sku}: {task.blocked}",
                              order=order.number))
    return ExceptionList("blocked_picks", "Blocked picks", len(cases), cases[:SHOWN])


def short_picks(session: Session) -> ExceptionList:
    """Order lines picked short, on orders not yet shipped or cancelled."""
    where = (OrderLine.qty_short > 0, Order.status.not_in(DONE_STATUSES))
    count = session.scalar(select(func.count()).select_from(OrderLine)
                           .join(Order, Order.id == OrderLine.order_id).where(*where))
    rows = session.execute(
        select(Order.number, Item.sku, OrderLine.qty_short, OrderLine.qty)
        .join(Order, Order.id == OrderLine.order_id).join(Item, Item.id == OrderLine.item_id)
        .where(*where).order_by(Order.id.desc(), OrderLine.id).limit(SHOWN))
    cases = [Case(f"{number} · {sku}: {short} of {qty} short", order=number)
             for number, sku, short, qty in rows]
    return ExceptionList("short_picks", "Short picks", count, cases)


def lot_mismatches(session: Session) -> ExceptionList:
    """Pack lines whose recorded lot is not the lot picked, on orders not yet done with."""
    where = (PackLine.lot_mismatch, Order.status.not_in(DONE_STATUSES))
    base = (select(func.count()).select_from(PackLine)
            .join(Carton, Carton.id == PackLine.carton_id)
            .join(Order, Order.id == Carton.order_id).where(*where))
    rows = session.execute(
        select(Order.number, Item.sku, PackLine.recorded_lot, PackLine.picked_lots)
        .join(Carton, Carton.id == PackLine.carton_id).join(Order, Order.id == Carton.order_id)
        .join(Item, Item.id == PackLine.item_id)
        .where(*where).order_by(PackLine.id.desc()).limit(SHOWN))
    cases = [Case(f"{number} · {sku}: recorded lot {recorded}, picked {picked or 'no lot'}",
                  order=number) for number, sku, recorded, picked in rows]
    return ExceptionList("lot_mismatches", "Lot mismatches at pack", session.scalar(base), cases)


def held_lots_exception(session: Session) -> ExceptionList:
    holds = held_lots(session)
    cases = []
    for hold in holds[:SHOWN]:
        lot: Lot = hold.lot
        cases.append(Case(f"{lot.number} · {lot.item.sku}: {hold.reason}", lot=lot.number))
    return ExceptionList("held_lots", "Held lots", len(holds), cases)


def intercepts_exception(session: Session) -> ExceptionList:
    """Packed, not shipped: cartons holding a lot that may not leave (lotline.lot_gate)."""
    found = lot_gate.intercepts(session, warehouse_today(session))
    cases = [Case(f"{i.order} · carton {i.carton} · {i.sku} lot {i.lot}: "
                  f"{i.refusal.code.replace('_', ' ')}", order=i.order) for i in found[:SHOWN]]
    return ExceptionList("intercepts", "Packed, not shipped: intercept", len(found), cases)


def exceptions(session: Session) -> Exceptions:
    return Exceptions(needs_count_exception(session), blocked_picks(session),
                      short_picks(session), lot_mismatches(session),
                      held_lots_exception(session), intercepts_exception(session))
