"""What every inventory change is made of: who makes it, the locations it locks, the lot it
names, and each quantity it changes with its ledger row."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import locations as locations_domain
from ..db import forget_found, row_locks
from ..errors import DomainError
from ..models import Inventory, Item, LedgerEntry, Location, Lot, User, utc_stamp
from .rules import STOCK, check_active, inventory_at


@dataclass
class Actor:
    """Who is doing it, and where: written on every ledger row."""

    user: User | None
    station: str = ""
    user_id: int | None = field(init=False)
    at: str = field(init=False)

    def __post_init__(self) -> None:
        # Read once: a transaction's first commit expires the user, and reloading it on
        # every ledger row would cost a query each time.
        self.user_id = self.user.id if self.user else None
        # Who has an order open at pack: the station, or the user on a device with none set.
        self.at = (self.station or f"user {self.user.username if self.user else '?'}")[:64]


@dataclass
class Change:
    location: str
    sku: str
    lot: str | None
    before: int
    after: int

    def line(self) -> str:
        lot = f" · {self.lot}" if self.lot else ""
        return f"{self.location} · {self.sku}{lot}: {self.before} → {self.after}"


ALREADY_SUBMITTED = "already_submitted"


@dataclass
class Result:
    operation: str
    changes: list[Change] = field(default_factory=list)
    reference: str = ""
    replayed: bool = False
    messages: list[str] = field(default_factory=list)
    # Set on the answer to a submission another user already made under the same key: when
    # it was made; the answer then carries nothing else of that submission's result.
    submitted_at: dt.datetime | None = None

    @property
    def code(self) -> str | None:
        """``already_submitted`` on the answer to another user's submission, else None."""
        return ALREADY_SUBMITTED if self.submitted_at is not None else None

    def to_dict(self) -> dict:
        data = {"operation": self.operation, "reference": self.reference,
                "replayed": self.replayed, "changes": [asdict(c) for c in self.changes],
                "messages": list(self.messages)}
        if self.submitted_at is not None:
            data["code"] = self.code
            data["submitted_at"] = utc_stamp(self.submitted_at)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        return cls(data["operation"], [Change(**c) for c in data["changes"]],
                   data.get("reference", ""), replayed=True,
                   messages=data.get("messages", []))


def scanned_code(value) -> str:
    """A scanned location code as stored (upper case); nothing scanned is the empty string."""
    return str(value if value is not None else "").strip().upper()


def scanned_sku(value) -> str:
    """A scanned SKU as compared (its spaces trimmed)."""
    return str(value if value is not None else "").strip()


def lock_locations(session: Session, codes: list[str]) -> dict[str, Location]:
    """Lock the locations (in code order, so two moves cannot deadlock) and return them by
    code: on PostgreSQL each is read with ``FOR UPDATE`` (one statement reads and locks it);
    on SQLite the transaction already holds the database's write lock."""
    locking = row_locks(session)
    return {code: check_active(locations_domain.get_location(session, code, lock=locking))
            for code in sorted({scanned_code(c) for c in codes})}


def lot_for(session: Session, item: Item, number: str | None,
            expiry: dt.date | None = None, known: Lot | None = None) -> Lot | None:
    """The item's lot ``number`` (``known`` when it is that lot already: no query), created
    on first sight; an expiry that contradicts the one on record is refused."""
    if number is None:
        return None
    if known is not None and known.item_id == item.id and known.number == number:
        lot = known
    else:
        lot = session.scalar(_LOT, {"item_id": item.id, "number": number})
    if lot is None:
        lot = Lot(item_id=item.id, number=number, expiry=expiry)
        session.add(lot)
        session.flush()  # its id, for the rows that name it
        return lot
    if expiry and lot.expiry and lot.expiry != expiry:
        raise DomainError("expiry_mismatch",
                          f"Lot {number} of {item.sku} expires {lot.expiry:%Y-%m-%d}, "
                          f"not {expiry:%Y-%m-%d}. Check the label.", field="expiry")
    if expiry and lot.expiry is None:
        lot.expiry = expiry
    return lot


_LOT = select(Lot).where(Lot.item_id == bindparam("item_id"), Lot.number == bindparam("number"))
_UNREAD = object()

# An inventory change is written with Core statements (SQLAlchemy's documented
# ``session.execute(statement, params)``), not through the ORM's unit of work: a scan writes
# two or three rows, and the flush that would find them cost a Put about 1 ms of CPU, a
# fifth of a scan (bench/RESULTS.md, issue 16). The ORM record already read is kept in step
# with ``set_committed_value``, so the rest of the transaction reads what was written.
_INVENTORY = Inventory.__table__
_ADD_STOCK = insert(_INVENTORY)
_SET_STOCK = (update(_INVENTORY).where(_INVENTORY.c.id == bindparam("row"))
              .values(qty=bindparam("after"), lot_id=bindparam("lot")))
_SET_QTY = (update(_INVENTORY).where(_INVENTORY.c.id == bindparam("row"))
            .values(qty=bindparam("after")))
_EMPTY = delete(_INVENTORY).where(_INVENTORY.c.id == bindparam("row"))
_LEDGER = insert(LedgerEntry.__table__)


def adjust(session: Session, *, kind: str, location: Location, item: Item, lot: Lot | None,
           delta: int, actor: Actor, reference: str, key: str | None, set_lot: bool = False,
           inv=_UNREAD) -> Change:
    """Change one (location, item) quantity by ``delta`` and write its ledger row.
    ``inv`` is the record as already read in this transaction (under its lock), if it was."""
    if inv is _UNREAD:
        inv = inventory_at(session, location, item)
    before = inv.qty if inv else 0
    after = before + delta
    if after < 0:  # the domain checks first; this is the last word before the CHECK
        raise DomainError("insufficient_quantity",
                          f"{location.code} holds only {before} of {item.sku}.", field="qty")
    lot_id = lot.id if lot else None
    if inv is None:
        if after > 0:
            session.execute(_ADD_STOCK, {"location_id": location.id, "item_id": item.id,
                                         "lot_id": lot_id, "qty": after})
            forget_found(session, STOCK, (location.id, item.id))
    elif after == 0:
        session.execute(_EMPTY, {"row": inv.id})  # an empty location holds no lot
        session.expunge(inv)
        forget_found(session, STOCK, (location.id, item.id))
    elif set_lot:
        session.execute(_SET_STOCK, {"row": inv.id, "after": after, "lot": lot_id})
        set_committed_value(inv, "qty", after)
        set_committed_value(inv, "lot_id", lot_id)
    else:
        session.execute(_SET_QTY, {"row": inv.id, "after": after})
        set_committed_value(inv, "qty", after)
    session.execute(_LEDGER, {
        "type": kind, "item_id": item.id, "location_id": location.id, "lot_id": lot_id,
        "delta": delta, "qty_after": after, "user_id": actor.user_id,
        "station": actor.station[:64], "reference": reference[:64], "idempotency_key": key})
    return Change(location.code, item.sku, lot.number if lot else None, before, after)
