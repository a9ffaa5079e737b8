"""Whether a lot may leave the warehouse: one rule, used by pick, pack (and its offline
replay), ship and the dashboard, so they refuse for the same reasons in the same words.

A lot may not leave when it is on hold (a recall, a quality check), when it has expired, or
when it expires inside the item's minimum shelf life. Dates are judged by the warehouse's
date (its time-zone setting). The expiry is the one on record; only a lot Lotline does not
know may bring its expiry from a GS1 label, and one unknown with no expiry passes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from .errors import DomainError
from .models import Carton, Lot, LotHold, Order, PackLine, PickLine, User


@dataclass(frozen=True)
class LotState:
    """A lot as the gate judges it: its expiry on record and its open hold, if any."""

    number: str
    expiry: dt.date | None
    hold_reason: str | None = None
    held_by: str | None = None
    held_at: dt.datetime | None = None


_l, _h, _u = Lot.__table__.c, LotHold.__table__.c, User.__table__.c
# Module-level Core statements, run on the session's connection (the scan path's way).
_STATE = (select(_l.id, _l.number, _l.expiry, _l.on_hold, _h.reason, _u.username, _h.held_at)
          .select_from(Lot.__table__
                       .outerjoin(LotHold.__table__,
                                  and_(_h.lot_id == _l.id, _h.released_at.is_(None)))
                       .outerjoin(User.__table__, _u.id == _h.held_by_id))
          .where(_l.item_id == bindparam("item_id"),
                 func.upper(_l.number).in_(bindparam("numbers", expanding=True)))
          .order_by(_l.id))
_LOCKED_STATE = _STATE.with_for_update(read=True, of=Lot.__table__)
_OPEN_HOLD = (select(_h.reason, _u.username, _h.held_at)
              .select_from(LotHold.__table__.outerjoin(User.__table__, _u.id == _h.held_by_id))
              .where(_h.lot_id == bindparam("lot_id"), _h.released_at.is_(None)))


def lot_states(session: Session, item_id: int, numbers, lock: bool = False) \
        -> dict[str, LotState]:
    """The lots ``numbers`` of an item, with their expiry and open hold, in one statement.
    ``lock`` (a transaction about to ship them): on PostgreSQL that statement takes the lot
    rows FOR SHARE, so it waits for a hold being placed (which updates the lot row) and a hold
    waits for this transaction. After such a wait PostgreSQL returns the lot row as committed,
    ``on_hold`` included, but the hold row joined to it as of the statement's start: the
    hold's details are then read in a second statement (only then)."""
    numbers = sorted({n.upper() for n in numbers if n})  # L1 and l1 are one lot to the gate
    if not numbers:
        return {}
    connection = session.connection()
    locking = lock and connection.dialect.name == "postgresql"
    found: dict[str, LotState] = {}
    for r in connection.execute(_LOCKED_STATE if locking else _STATE,
                                {"item_id": item_id, "numbers": numbers}):
        hold = (r.reason, r.username, r.held_at) if r.on_hold else (None, None, None)
        if r.on_hold and r.reason is None:  # held while this statement waited for the lot
            hold = tuple(connection.execute(_OPEN_HOLD, {"lot_id": r.id}).one())
        state = found.get(r.number.upper())
        if state is None or state.hold_reason is None:  # a held one wins
            found[r.number.upper()] = LotState(r.number, r.expiry, *hold)
    return _ByNumber(found)


class _ByNumber(dict):
    """Lot states by number, whatever the case it was scanned in."""

    def get(self, number, default=None):
        return super().get(str(number).upper(), default)


REFUSALS = ("lot_on_hold", "lot_expired", "shelf_life_too_short")  # a supervisor may override


class LotRefusal(DomainError):
    """Why a lot may not leave: ``why`` states the fact (pick, ship and the dashboard say it
    in their own sentences); the message adds what the packer does about it."""

    def __init__(self, code: str, why: str, advice: str, **details):
        super().__init__(code, f"{why}. {advice}", field="lot", **details)
        self.why = why


def refusal(item, lot: str, state: LotState | None, today: dt.date,
            label_expiry: dt.date | None = None) -> LotRefusal | None:
    """Why ``lot`` of ``item`` may not leave today, or None. ``state`` is the lot on record
    (None: Lotline does not know it; then a GS1 label's expiry is judged, if it had one)."""
    if state is not None and state.hold_reason is not None:
        who = f" by {state.held_by}" if state.held_by else ""
        when = f" on {state.held_at:%Y-%m-%d}" if state.held_at else ""
        return LotRefusal("lot_on_hold", f"Lot {lot} of {item.sku} is on hold "
                          f"({state.hold_reason}; held{who}{when})",
                          "It may not leave: put it aside and tell a supervisor.",
                          reason=state.hold_reason, held_by=state.held_by)
    expiry = (state.expiry if state is not None else None) or label_expiry
    if expiry is None:
        return None
    if expiry < today:
        return LotRefusal("lot_expired", f"Lot {lot} of {item.sku} expired on "
                          f"{expiry:%Y-%m-%d}", "It may not leave: put it aside and take "
                          "another lot.", expiry=expiry.isoformat())
    days = item.min_shelf_life_days or 0
    needed = today + dt.timedelta(days=days)
    if days and expiry < needed:
        return LotRefusal(
            "shelf_life_too_short",
            f"Lot {lot} of {item.sku} expires {expiry:%Y-%m-%d}; this item must not "
            f"expire before {needed:%Y-%m-%d} ({days} days' shelf life)",
            "Put it aside and take a fresher lot.", expiry=expiry.isoformat())
    return None


@dataclass(frozen=True)
class Intercept:
    """A lot in a packed carton that may not leave."""

    order: str
    carton: int
    sku: str
    lot: str
    refusal: LotRefusal


def intercepts(session: Session, today: dt.date, order_ids=None, lock: bool = False) \
        -> list[Intercept]:
    """Lots in the cartons of orders not yet shipped (or of ``order_ids``) that may not
    leave today: the lot a pack line recorded, else the lots its order line was picked from
    (the pick lines, not the pack line's shortened text). A supervisor's override on a pack
    line covers it, unless the lot was held again after that pack."""
    query = (select(PackLine, Order.number, Carton.number.label("carton"))
             .join(Carton, Carton.id == PackLine.carton_id)
             .join(Order, Order.id == Carton.order_id).order_by(Order.id, PackLine.id))
    query = query.where(Order.id.in_(order_ids)) if order_ids is not None else \
        query.where(Order.status.in_(("packing", "packed")))
    rows = session.execute(query).all()
    picked: dict[int, set[str]] = {}
    unrecorded = {line.order_line_id for line, _, _ in rows if not line.recorded_lot}
    if unrecorded:
        for line_id, number in session.execute(
                select(PickLine.order_line_id, Lot.number).join(Lot, Lot.id == PickLine.lot_id)
                .where(PickLine.order_line_id.in_(unrecorded), PickLine.qty > 0)):
            picked.setdefault(line_id, set()).add(number)
    found = []
    by_item: dict[int, list] = {}
    for line, number, carton in rows:
        lots = [line.recorded_lot] if line.recorded_lot else \
            sorted(picked.get(line.order_line_id, ()))
        by_item.setdefault(line.item_id, []).append((line, number, carton, lots))
    for item_id, entries in by_item.items():
        states = lot_states(session, item_id, [n for e in entries for n in e[3]], lock=lock)
        for line, number, carton, lots in entries:
            for lot in lots:
                state = states.get(lot)
                refused = refusal(line.item, lot, state, today)
                overridden = line.override_by_id is not None and (
                    state is None or state.held_at is None or state.held_at <= line.created_at)
                if refused is not None and not overridden:
                    found.append(Intercept(number, carton, line.item.sku, lot, refused))
    return found
