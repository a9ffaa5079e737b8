"""The inventory transactions and the lot rules (spec: Lot Tracking; PRODUCT.md rules 2–5).

Every function here is one database transaction (:func:`lotline.db.run_in_transaction`) that
  1. claims its idempotency key first (a repeat returns the first result, changes nothing),
  2. locks the locations it changes (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
     ``BEGIN IMMEDIATE`` already holds the database's write lock),
  3. applies the rule, and writes a ledger row for every change of a quantity.
The database backs the rules up: one row per (location, item), ``qty >= 0``, and a lot
that must belong to the row's item.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import bindparam, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from . import locations as locations_domain
from . import records
from .commands import refuse_command
from .db import row_locks, run_in_transaction, transaction
from .errors import Conflict, DomainError, NotFound, ValidationError
from .items import find_item, find_item_ref
from .models import (
    CountRequest,
    IdempotencyRecord,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    PurchaseOrder,
    PurchaseOrderLine,
    User,
    utcnow,
)
from .prepared import Prepared
from .records import ItemRef, LotRef, Place, Stock

MAX_QTY = 1_000_000
LOT_RE = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces: what labels carry


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


@dataclass
class Result:
    operation: str
    changes: list[Change] = field(default_factory=list)
    reference: str = ""
    replayed: bool = False
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"operation": self.operation, "reference": self.reference,
                "replayed": self.replayed, "changes": [asdict(c) for c in self.changes],
                "messages": list(self.messages)}

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        return cls(data["operation"], [Change(**c) for c in data["changes"]],
                   data.get("reference", ""), replayed=True,
                   messages=data.get("messages", []))


# ---------------------------------------------------------------- input checks

def clean_qty(value, *, allow_zero: bool = False) -> int:
    try:
        qty = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError("Quantity must be a whole number.", field="qty") from None
    if isinstance(value, bool):
        raise ValidationError("Quantity must be a whole number.", field="qty")
    low = 0 if allow_zero else 1
    if not low <= qty <= MAX_QTY:
        raise ValidationError(f"Quantity must be from {low} to {MAX_QTY:,}.", field="qty")
    return qty


def clean_lot(value) -> str | None:
    if value is None or not str(value).strip():
        return None
    lot = str(value).strip()
    refuse_command(lot, "lot number", "lot")
    if not LOT_RE.match(lot):
        raise ValidationError("A lot number has 1 to 64 printable characters and no spaces.",
                              field="lot")
    return lot


def required_lot(item: Item, value) -> str | None:
    """The lot for a transaction on ``item``: required when it tracks lots, refused otherwise."""
    lot = clean_lot(value)
    if item.require_lot and lot is None:
        raise DomainError("lot_required", f"{item.sku} requires a lot number. Scan the lot.",
                          field="lot")
    if not item.require_lot and lot is not None:
        raise ValidationError(f"{item.sku} does not track lots; leave the lot empty.",
                              field="lot")
    return lot


# ---------------------------------------------------------------- reads shared with screens

def active_location(session: Session, code) -> Location:
    return _active(locations_domain.get_location(session, code))


def _active(location: Location) -> Location:
    if not location.active:
        raise DomainError("location_inactive",
                          f"{location.code} is deactivated. Use another location.",
                          field="location")
    return location


def inventory_at(session: Session, location: Location | Place,
                 item: Item | ItemRef) -> Stock | None:
    """The (location, item) record with its lot, in one prepared statement (every scan reads
    it)."""
    return records.stock(session, location.id, item.id)


def check_destination(session: Session, location: Location | Place, item: Item | ItemRef,
                      lot: str | None) -> Stock | None:
    """Rule 2: a location holds at most one lot of an item. Returns the record it read."""
    inv = inventory_at(session, location, item)
    if inv is None or inv.qty == 0:
        return inv
    held = inv.lot.number if inv.lot else None
    if held == lot:
        return inv
    if held is None and item.require_lot:
        raise DomainError(
            "needs_cycle_count",
            f"{location.code} holds {inv.qty} of {item.sku} without a lot. "
            f"Cycle count {location.code} first, or put the lot in another location.",
            field="location")
    if held is None:
        raise DomainError(
            "location_holds_other_lot",
            f"{location.code} holds {item.sku} without a lot; lot {lot} cannot join it. "
            f"Put it in another location.", field="location", held_lot=None)
    if lot is None:  # tracking was switched off while a lot was still on record here
        raise DomainError(
            "location_holds_other_lot",
            f"{location.code} holds lot {held} of {item.sku}. Cycle count {location.code} to "
            f"clear its lot, or put {item.sku} in another location.",
            field="location", held_lot=held)
    raise DomainError(
        "location_holds_other_lot",
        f"{location.code} holds lot {held} of {item.sku}. Put {lot} in another location.",
        field="location", held_lot=held)


def check_source(session: Session, location: Location | Place,
                 item: Item | ItemRef) -> Stock:
    """What Pull and Move take from: the location holds some of the item, and for a
    lot-tracked item with a lot on record (else the lot cannot be verified: count it first)."""
    inv = inventory_at(session, location, item)
    if inv is None or inv.qty == 0:
        raise DomainError("insufficient_quantity",
                          f"{location.code} holds no {item.sku}. Check the location.",
                          field="location", available=0)
    if item.require_lot and inv.lot_id is None:
        raise DomainError(
            "needs_cycle_count",
            f"{location.code} holds {item.sku} without a lot. Cycle count it first.",
            field="location")
    return inv


def verify_lot(session: Session, location: Location | Place, item: Item | ItemRef,
               lot: str | None, qty: int | None = None) -> Stock:
    """Rule 4: Pull and Move verify the scanned lot against the location's lot."""
    inv = check_source(session, location, item)
    if item.require_lot:
        held = inv.lot.number
        if held != lot:
            raise DomainError(
                "lot_mismatch",
                f"{location.code} holds lot {held} of {item.sku}, not {lot}. "
                f"Scan the lot on the product you are holding again.",
                field="lot", held_lot=held)
    if qty is not None and qty > inv.qty:
        raise DomainError(
            "insufficient_quantity",
            f"{location.code} holds only {inv.qty} of {item.sku}; you asked for {qty}.",
            field="qty", available=inv.qty)
    return inv


# ---------------------------------------------------------------- the transaction frame

def _code(value) -> str:
    """A scanned location code as stored (upper case); nothing scanned is the empty string."""
    return str(value if value is not None else "").strip().upper()


def _sku(value) -> str:
    return str(value if value is not None else "").strip()


def _lock(session: Session, codes: list[str]) -> dict[str, Place]:
    """Lock the locations (in code order, so two moves cannot deadlock) and return them by
    code: on PostgreSQL each is read with ``FOR UPDATE`` (one statement reads and locks it);
    on SQLite the transaction already holds the database's write lock."""
    locking = row_locks(session)
    found = {}
    for code in sorted({_code(c) for c in codes}):
        location = records.place(session, code, for_update=locking)
        if location is None:
            locations_domain.get_location(session, code)  # raises its "no location" error
        found[code] = _active(location)
    return found


_NEW_LOT = Prepared(sa_insert(Lot.__table__).values(
    item_id=bindparam("item_id"), number=bindparam("number"), expiry=bindparam("expiry"),
    created_at=bindparam("at")).returning(Lot.__table__.c.id))
_SET_EXPIRY = Prepared(sa_update(Lot.__table__).where(Lot.__table__.c.id == bindparam("pk"))
                       .values(expiry=bindparam("expiry")))


def _get_lot(session: Session, item: Item | ItemRef, number: str | None,
             expiry: dt.date | None = None, known: LotRef | None = None) -> LotRef | None:
    """The item's lot ``number`` (``known`` when it is that lot already: no query), created
    on first sight; an expiry that contradicts the one on record is refused."""
    if number is None:
        return None
    if known is not None and known.item_id == item.id and known.number == number:
        lot = known
    else:
        lot = records.lot(session, item.id, number)
    if lot is None:
        (pk,) = _NEW_LOT.first(session, {"item_id": item.id, "number": number,
                                          "expiry": expiry, "at": utcnow()})
        return LotRef(pk, item.id, number, expiry)
    if expiry and lot.expiry and lot.expiry != expiry:
        raise DomainError("expiry_mismatch",
                          f"Lot {number} of {item.sku} expires {lot.expiry:%Y-%m-%d}, "
                          f"not {expiry:%Y-%m-%d}. Check the label.", field="expiry")
    if expiry and lot.expiry is None:
        _SET_EXPIRY.execute(session, {"pk": lot.id, "expiry": expiry})
        lot = lot._replace(expiry=expiry)
    return lot


_UNREAD = object()
# The writes of every inventory change: prepared statements in the transaction (no
# unit-of-work flush), every column given.
_SET_QTY = Prepared(
    sa_update(Inventory.__table__).where(Inventory.__table__.c.id == bindparam("pk"))
    .values(qty=bindparam("qty"), updated_at=bindparam("at")))
# Only when the lot changes: SQLite rewrites the lot index entry of every row whose lot_id is
# SET, even to the same value (a page more to write at every commit).
_SET_QTY_AND_LOT = Prepared(
    sa_update(Inventory.__table__).where(Inventory.__table__.c.id == bindparam("pk"))
    .values(qty=bindparam("qty"), lot_id=bindparam("lot"), updated_at=bindparam("at")))
_DELETE_ROW = Prepared(sa_delete(Inventory.__table__)
                       .where(Inventory.__table__.c.id == bindparam("pk")))
_NEW_ROW = Prepared(sa_insert(Inventory.__table__).values(
    {name: bindparam(name) for name in ("location_id", "item_id", "lot_id", "qty",
                                         "updated_at")}))
_LEDGER_ROW = Prepared(sa_insert(LedgerEntry.__table__).values(
    {name: bindparam(name) for name in ("type", "item_id", "location_id", "lot_id", "delta",
                                         "qty_after", "user_id", "station", "reference",
                                         "idempotency_key", "created_at")}))


def _adjust(session: Session, *, kind: str, location: Location | Place, item: Item | ItemRef,
            lot: Lot | LotRef | None, delta: int, actor: Actor, reference: str,
            key: str | None, set_lot: bool = False, inv=_UNREAD) -> Change:
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
    now = utcnow()
    if inv is None:
        if after > 0:
            _NEW_ROW.execute(session, {"location_id": location.id, "item_id": item.id,
                                       "lot_id": lot_id, "qty": after, "updated_at": now})
    elif after == 0:
        _DELETE_ROW.execute(session, {"pk": inv.id})  # an empty location holds no lot
    else:
        if set_lot and lot_id != inv.lot_id:
            _SET_QTY_AND_LOT.execute(session, {"pk": inv.id, "qty": after, "lot": lot_id,
                                               "at": now})
        else:
            _SET_QTY.execute(session, {"pk": inv.id, "qty": after, "at": now})
    _LEDGER_ROW.execute(session, {
        "type": kind, "item_id": item.id, "location_id": location.id, "lot_id": lot_id,
        "delta": delta, "qty_after": after, "user_id": actor.user_id,
        "station": actor.station[:64], "reference": reference[:64], "idempotency_key": key,
        "created_at": now})
    return Change(location.code, item.sku, lot.number if lot else None, before, after)


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


KEY_RE = re.compile(r"[\w.:-]{8,64}")


@dataclass
class Once:
    """A change's idempotency key, scoped to its user: its record is written in the change's
    transaction, and a repeat of the key is answered with the first result."""

    key: str
    user_id: int | None
    operation: str
    fingerprint: str

    @classmethod
    def of(cls, actor: Actor, key, operation: str, params: dict) -> Once | None:
        """The key's record to be, or None for a change sent without a key."""
        if not key:
            return None
        key = str(key).strip()
        if not KEY_RE.fullmatch(key):
            raise ValidationError("An idempotency key has 8 to 64 letters, digits or . _ : -.",
                                  field="idempotency_key")
        return cls(f"{actor.user_id or 0}:{key}", actor.user_id, operation,
                   _fingerprint(params))

    def record(self, session: Session, result: Result) -> None:
        """Written last: its primary key makes a twin that raced this change fail here."""
        session.flush()  # the change's own writes first, so a refusal among them wins
        session.add(IdempotencyRecord(
            key=self.key, user_id=self.user_id, operation=self.operation,
            result_json=json.dumps({"fp": self.fingerprint, "result": result.to_dict()})))

    def replay(self, session: Session) -> Result | None:
        """The first result under this key, if a change was applied under it; the same key
        sent with another request is refused."""
        with transaction(session, write=False):
            record = session.get(IdempotencyRecord, self.key)
            if record is None:
                return None
            stored = json.loads(record.result_json)
            if record.operation != self.operation or stored.get("fp") != self.fingerprint:
                raise Conflict("This idempotency key was already used for a different request.",
                               code="idempotency_key_reused")
            return Result.from_dict(stored["result"])


def run_once(session: Session, operation: str, actor: Actor, key: str | None, params: dict,
             apply) -> Result:
    """Run ``apply()`` as one write transaction, at most once per idempotency key
    (:func:`lotline.db.run_in_transaction`). A refusal also looks for a twin that went first
    (the stock it wanted may be what the twin took); rules are re-checked on every try."""
    return run_in_transaction(session, apply, once=Once.of(actor, key, operation, params))


def already_done(session: Session, actor: Actor, key: str | None) -> Result | None:
    """The stored result of a submission already applied under ``key`` by this user, if any
    (a screen re-sent by a flaky network: answer "already done" before checking anything)."""
    if not key:
        return None
    record = session.get(IdempotencyRecord, f"{actor.user_id or 0}:{str(key).strip()}")
    if record is None:
        return None
    stored = json.loads(record.result_json)
    return Result.from_dict(stored["result"]) if "result" in stored else None


# ---------------------------------------------------------------- the transactions

def put(session: Session, *, location, sku, lot, qty, actor: Actor, idempotency_key=None,
        expiry: dt.date | None = None, reference: str = "", kind: str = "put") -> Result:
    """Add stock to a location (rule 3); a lot-tracked item needs its lot (rule 2 applies)."""
    qty = clean_qty(qty)
    params = {"location": _code(location), "sku": _sku(sku), "lot": lot, "qty": qty,
              "ref": reference, "expiry": expiry}

    def apply():
        loc = _lock(session, [location])[_code(location)]
        item = find_item_ref(session, sku)
        lot_number = required_lot(item, lot)
        inv = check_destination(session, loc, item, lot_number)
        lot_row = _get_lot(session, item, lot_number, expiry, known=inv.lot if inv else None)
        change = _adjust(session, kind=kind, location=loc, item=item, lot=lot_row, delta=qty,
                         actor=actor, reference=reference, key=idempotency_key, inv=inv)
        return Result(kind, [change], reference)

    return run_once(session, kind, actor, idempotency_key, params, apply)


def pull(session: Session, *, location, sku, lot, qty, actor: Actor, idempotency_key=None,
         reference: str = "") -> Result:
    """Remove stock: the scanned lot must match the location's lot (rule 4)."""
    qty = clean_qty(qty)
    params = {"location": _code(location), "sku": _sku(sku), "lot": lot, "qty": qty}

    def apply():
        loc = _lock(session, [location])[_code(location)]
        item = find_item_ref(session, sku)
        lot_number = required_lot(item, lot)
        inv = verify_lot(session, loc, item, lot_number, qty)
        change = _adjust(session, kind="pull", location=loc, item=item, lot=inv.lot,
                         delta=-qty, actor=actor, reference=reference, key=idempotency_key,
                         inv=inv)
        return Result("pull", [change], reference)

    return run_once(session, "pull", actor, idempotency_key, params, apply)


def move(session: Session, *, from_location, to_location, sku, lot, qty, actor: Actor,
         idempotency_key=None) -> Result:
    """Move stock: verify the lot at the source (rule 4), rule 2 at the destination."""
    qty = clean_qty(qty)
    src_code = _code(from_location)
    dst_code = _code(to_location)
    if src_code == dst_code:
        raise ValidationError("From and To are the same location. Scan another To location.",
                              field="to_location")
    params = {"from": src_code, "to": dst_code, "sku": _sku(sku), "lot": lot, "qty": qty}

    def apply():
        locs = _lock(session, [src_code, dst_code])
        item = find_item_ref(session, sku)
        lot_number = required_lot(item, lot)
        inv = verify_lot(session, locs[src_code], item, lot_number, qty)
        lot_row = inv.lot  # what moves is the source's lot, whatever was scanned
        dst = check_destination(session, locs[dst_code], item,
                                lot_row.number if lot_row else None)
        out = _adjust(session, kind="move-out", location=locs[src_code], item=item, lot=lot_row,
                      delta=-qty, actor=actor, reference=dst_code, key=idempotency_key,
                      inv=inv)
        into = _adjust(session, kind="move-in", location=locs[dst_code], item=item,
                       lot=lot_row, delta=qty, actor=actor, reference=src_code,
                       key=idempotency_key, inv=dst)
        return Result("move", [out, into], f"{src_code} → {dst_code}")

    return run_once(session, "move", actor, idempotency_key, params, apply)


def cycle_count(session: Session, *, location, sku, lot, qty, actor: Actor,
                idempotency_key=None) -> Result:
    """Set the counted quantity (and lot). The way lots are added to lot-less stock (rule 5)."""
    qty = clean_qty(qty, allow_zero=True)
    params = {"location": _code(location), "sku": _sku(sku), "lot": lot, "qty": qty}

    def apply():
        loc = _lock(session, [location])[_code(location)]
        item = find_item_ref(session, sku)
        lot_number = clean_lot(lot)
        if qty > 0:
            lot_number = required_lot(item, lot)
        elif lot_number is not None and not item.require_lot:
            raise ValidationError(f"{item.sku} does not track lots; leave the lot empty.",
                                  field="lot")
        inv = inventory_at(session, loc, item)
        before = inv.qty if inv else 0
        old_lot = inv.lot if inv else None
        new_lot = _get_lot(session, item, lot_number) if qty > 0 else old_lot
        changes = []
        lot_changes = qty > 0 and before > 0 and (old_lot.id if old_lot else None) != \
            (new_lot.id if new_lot else None)
        if lot_changes:
            # The lot on the shelf is not the one on record: count the old one out, the new in.
            changes.append(_adjust(session, kind="cycle-count", location=loc, item=item,
                                   lot=old_lot, delta=-before, actor=actor, reference="",
                                   key=idempotency_key))
            before = 0
        changes.append(_adjust(session, kind="cycle-count", location=loc, item=item,
                               lot=new_lot, delta=qty - before, actor=actor, reference="",
                               key=idempotency_key, set_lot=True))
        session.execute(update(CountRequest).where(
            CountRequest.location_id == loc.id, CountRequest.item_id == item.id,
            CountRequest.resolved_at.is_(None)).values(resolved_at=utcnow()))
        return Result("cycle-count", changes)

    return run_once(session, "cycle-count", actor, idempotency_key, params, apply)


def putaway(session: Session, *, po_number, location, sku, lot, qty, actor: Actor,
            idempotency_key=None, allow_over_receipt: bool = False,
            expiry: dt.date | None = None) -> Result:
    """PO Putaway: receive against a purchase order line, then put (rules 2 and 3)."""
    qty = clean_qty(qty)
    params = {"po": _code(po_number), "location": _code(location), "sku": _sku(sku),
              "lot": lot, "qty": qty, "over": allow_over_receipt, "expiry": expiry}
    if allow_over_receipt and not (actor.user and actor.user.has_role("supervisor")):
        raise DomainError("forbidden", "Only a supervisor may receive more than ordered.",
                          status=403)

    def apply():
        loc = _lock(session, [location])[_code(location)]
        item = find_item_ref(session, sku)
        line = purchase_order_line(session, po_number, item)
        if row_locks(session):
            session.execute(select(PurchaseOrderLine.id)
                            .where(PurchaseOrderLine.id == line.id).with_for_update())
            session.refresh(line)
        if qty > line.remaining and not allow_over_receipt:
            raise DomainError(
                "over_receipt",
                f"{line.purchase_order.number} has {line.remaining} of {item.sku} left to "
                f"receive; you scanned {qty}. Receive {line.remaining} or ask a supervisor.",
                field="qty", remaining=line.remaining)
        lot_number = required_lot(item, lot)
        inv = check_destination(session, loc, item, lot_number)
        lot_row = _get_lot(session, item, lot_number, expiry, known=inv.lot if inv else None)
        line.qty_received += qty
        change = _adjust(session, kind="putaway", location=loc, item=item, lot=lot_row,
                         delta=qty, actor=actor, reference=line.purchase_order.number,
                         key=idempotency_key, inv=inv)
        return Result("putaway", [change], line.purchase_order.number)

    return run_once(session, "putaway", actor, idempotency_key, params, apply)


# ---------------------------------------------------------------- purchase orders

def get_purchase_order(session: Session, number) -> PurchaseOrder:
    number = str(number or "").strip().upper()
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
    if po is None:
        raise NotFound(f"No purchase order {number}. Scan the PO barcode again.",
                       code="unknown_purchase_order")
    return po


def purchase_order_line(session: Session, po_number, item: Item) -> PurchaseOrderLine:
    po = get_purchase_order(session, po_number)
    line = next((ln for ln in po.lines if ln.item_id == item.id), None)
    if line is None:
        raise DomainError("not_on_purchase_order",
                          f"{item.sku} is not on {po.number}. Check the item or the PO.",
                          field="sku")
    return line


def create_purchase_order(session: Session, number, vendor: str,
                          lines: list[dict]) -> PurchaseOrder:
    number = str(number or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9._/-]{0,31}", number):
        raise ValidationError("A PO number has 1 to 32 letters, digits or . _ / -.",
                              field="number")
    if session.scalar(select(PurchaseOrder.id).where(PurchaseOrder.number == number)):
        raise Conflict(f"Purchase order {number} already exists.", field="number")
    if not lines:
        raise ValidationError("A purchase order needs at least one line.", field="lines")
    po = PurchaseOrder(number=number, vendor=str(vendor or "").strip()[:100])
    session.add(po)
    seen = set()
    for n, entry in enumerate(lines, start=1):
        try:
            item = find_item(session, entry.get("sku"))
        except DomainError as exc:
            raise NotFound(f"Line {n}: No item with SKU or GTIN {entry.get('sku')}.",
                           code="unknown_item", field="lines") from exc
        if item.id in seen:
            raise ValidationError(f"Line {n}: {item.sku} is on the order twice; add the "
                                  f"quantities into one line.", field="lines")
        seen.add(item.id)
        try:
            qty = clean_qty(entry.get("qty"))
        except ValidationError as exc:
            raise ValidationError(f"Line {n}: {exc.message}", field="lines") from exc
        po.lines.append(PurchaseOrderLine(item_id=item.id, qty_ordered=qty, qty_received=0))
    session.flush()
    return po


# ---------------------------------------------------------------- queries

@dataclass
class PurchaseOrderPage:
    orders: list[PurchaseOrder]
    total: int
    page: int
    pages: int


def page_purchase_orders(session: Session, page: int | str = 1,
                         per_page: int = 25) -> PurchaseOrderPage:
    """One page of purchase orders, newest first, with their lines and items loaded."""
    from sqlalchemy import func
    from sqlalchemy.orm import selectinload

    from .paging import page_count, page_number

    total = session.scalar(select(func.count()).select_from(PurchaseOrder))
    pages = page_count(total, per_page)
    page = min(page_number(page), pages)
    orders = session.scalars(
        select(PurchaseOrder).order_by(PurchaseOrder.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(PurchaseOrder.lines).selectinload(PurchaseOrderLine.item)))
    return PurchaseOrderPage(list(orders), total, page, pages)


@dataclass
class NeedsCount:
    location: Location
    item: Item
    qty: int
    reason: str


def request_count(session: Session, location_id: int, item_id: int, reason: str) -> None:
    """Put a (location, item) on the Needs cycle count list (once while it is open)."""
    open_request = session.scalar(select(CountRequest.id).where(
        CountRequest.location_id == location_id, CountRequest.item_id == item_id,
        CountRequest.resolved_at.is_(None)))
    if open_request is None:
        session.add(CountRequest(location_id=location_id, item_id=item_id, reason=reason[:200]))
        session.flush()


def count_requested(session: Session, location_id: int, item_id: int) -> bool:
    return session.scalar(select(CountRequest.id).where(
        CountRequest.location_id == location_id, CountRequest.item_id == item_id,
        CountRequest.resolved_at.is_(None)).limit(1)) is not None


def needs_cycle_count(session: Session) -> list[NeedsCount]:
    """What must be counted: lot-tracked stock with no lot (it cannot be picked until it is
    counted), and every location whose record was put in doubt (a short pick, a lot
    recorded at pack that differs from the lot picked there)."""
    rows: dict[tuple[int, int], NeedsCount] = {}
    lotless = session.execute(
        select(Inventory, Location, Item).join(Item, Item.id == Inventory.item_id)
        .join(Location, Location.id == Inventory.location_id)
        .where(Item.require_lot, Inventory.lot_id.is_(None), Inventory.qty > 0))
    for inv, loc, item in lotless:
        rows[(loc.id, item.id)] = NeedsCount(
            loc, item, inv.qty, "Lot tracking is on but this stock has no lot.")
    requests = session.execute(
        select(CountRequest, Location, Item, Inventory.qty)
        .join(Location, Location.id == CountRequest.location_id)
        .join(Item, Item.id == CountRequest.item_id)
        .outerjoin(Inventory, (Inventory.location_id == CountRequest.location_id)
                   & (Inventory.item_id == CountRequest.item_id))
        .where(CountRequest.resolved_at.is_(None)).order_by(CountRequest.id))
    for req, loc, item, qty in requests:
        key = (loc.id, item.id)
        if key in rows:
            rows[key].reason += " " + req.reason
        else:
            rows[key] = NeedsCount(loc, item, qty or 0, req.reason)
    return sorted(rows.values(), key=lambda r: (r.location.code, r.item.sku))


def query_inventory(session: Session, *, sku=None, location=None, lot=None,
                    limit: int = 500) -> list[Inventory]:
    query = select(Inventory).join(Item).join(Location).order_by(Location.code, Item.sku)
    if sku:
        query = query.where(Item.id == find_item(session, sku).id)
    if location:
        query = query.where(Location.code == str(location).strip().upper())
    if lot:
        query = query.join(Lot, Lot.id == Inventory.lot_id).where(Lot.number == str(lot).strip())
    return list(session.scalars(query.limit(limit)))


def ledger_mismatches(session: Session) -> list[tuple]:
    """(location_id, item_id, inventory qty, ledger sum) wherever the two disagree."""
    from sqlalchemy import func, literal, union_all

    inv = select(Inventory.location_id, Inventory.item_id, Inventory.qty.label("q"),
                 literal(0).label("l"))
    led = select(LedgerEntry.location_id, LedgerEntry.item_id, literal(0).label("q"),
                 LedgerEntry.delta.label("l"))
    both = union_all(inv, led).subquery()
    rows = session.execute(
        select(both.c.location_id, both.c.item_id, func.sum(both.c.q), func.sum(both.c.l))
        .group_by(both.c.location_id, both.c.item_id)
        .having(func.sum(both.c.q) != func.sum(both.c.l)))
    return [tuple(r) for r in rows]

