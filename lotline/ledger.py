"""The ledger for supervisors: every inventory change, filtered, paged and exported as CSV.

Filters name things the way a supervisor types them (SKU, lot number, location code,
username); each is looked up to its id first, so the query filters on the ledger's own
columns (``item_id``, ``location_id``, ``lot_id``, ``user_id``, ``created_at``) and can use
their indexes instead of joining to compare text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .errors import ValidationError
from .inventory import clean_lot
from .models import LEDGER_TYPES, Item, LedgerEntry, Location, Lot, User

PER_PAGE = 50
MAX_PER_PAGE = 500
CSV_CHUNK = 1000
CSV_HEADER = ("time_utc", "type", "sku", "location", "lot", "delta", "qty_after", "user",
              "station", "reference")


@dataclass
class LedgerFilters:
    """The filters as the supervisor gave them (cleaned), to redisplay and to link with."""

    sku: str = ""
    lot: str = ""
    location: str = ""
    user: str = ""
    type: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def params(self) -> dict[str, str]:
        """The non-empty filters as query-string values (for paging and export links)."""
        values = {"sku": self.sku, "lot": self.lot, "location": self.location,
                  "user": self.user, "type": self.type,
                  "date_from": self.date_from.isoformat() if self.date_from else "",
                  "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in values.items() if v}


@dataclass
class LedgerPage:
    rows: list[LedgerEntry]
    total: int
    page: int
    pages: int
    per_page: int
    filters: LedgerFilters = field(default_factory=LedgerFilters)


def clean_date(value, field_name: str) -> dt.date | None:
    """A date filter: a ``datetime.date`` or an ISO ``YYYY-MM-DD`` string; empty is none."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{text} is not a date. Use the form YYYY-MM-DD.",
                              field=field_name) from None


def _clean_text(value) -> str:
    return str(value if value is not None else "").strip()


def _conditions(session: Session, *, sku=None, lot=None, location=None, user=None, type=None,
                date_from=None, date_to=None) -> tuple[list, LedgerFilters]:
    """Validate the filters and turn them into WHERE conditions on ledger columns."""
    filters = LedgerFilters()
    where = []
    kind = _clean_text(type)
    if kind:
        if kind not in LEDGER_TYPES:
            raise ValidationError(f"Type {kind} is not a ledger type. Choose one of "
                                  f"{', '.join(LEDGER_TYPES)}.", field="type")
        filters.type = kind
        where.append(LedgerEntry.type == kind)
    filters.date_from = clean_date(date_from, "date_from")
    filters.date_to = clean_date(date_to, "date_to")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationError(f"From ({filters.date_from:%Y-%m-%d}) is after To "
                              f"({filters.date_to:%Y-%m-%d}).", field="date_from")
    if filters.date_from:
        where.append(LedgerEntry.created_at >= dt.datetime.combine(filters.date_from,
                                                                   dt.time.min))
    if filters.date_to:  # inclusive: everything before the next day starts
        where.append(LedgerEntry.created_at < dt.datetime.combine(
            filters.date_to + dt.timedelta(days=1), dt.time.min))

    item_id = None
    sku = _clean_text(sku)
    if sku:
        item_id = session.scalar(select(Item.id).where(Item.sku == sku))
        if item_id is None:
            raise ValidationError(f"No item with SKU {sku}. Check the SKU.", field="sku")
        filters.sku = sku
        where.append(LedgerEntry.item_id == item_id)
    code = _clean_text(location).upper()
    if code:
        location_id = session.scalar(select(Location.id).where(Location.code == code))
        if location_id is None:
            raise ValidationError(f"No location {code}. Check the location code.",
                                  field="location")
        filters.location = code
        where.append(LedgerEntry.location_id == location_id)
    if _clean_text(lot):
        try:
            number = clean_lot(lot)
        except ValidationError as exc:
            raise ValidationError(exc.message, field="lot") from None
        query = select(Lot.id).where(Lot.number == number)
        if item_id is not None:
            query = query.where(Lot.item_id == item_id)
        lot_ids = list(session.scalars(query))
        if not lot_ids:
            of = f" of {sku}" if sku else ""
            raise ValidationError(f"No lot {number}{of} is on record. Check the lot number.",
                                  field="lot")
        filters.lot = number
        where.append(LedgerEntry.lot_id.in_(lot_ids))
    username = _clean_text(user)
    if username:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise ValidationError(f"No user {username}. Check the username.", field="user")
        filters.user = username
        where.append(LedgerEntry.user_id == user_id)
    return where, filters


def _clean_page(value, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


def search_ledger(session: Session, *, sku=None, lot=None, location=None, user=None, type=None,
                  date_from=None, date_to=None, page=1, per_page=PER_PAGE) -> LedgerPage:
    """One page of ledger rows (newest first) matching every filter given.

    Raises ``ValidationError`` for a filter that cannot be right: an unknown type, SKU,
    location, lot or user, a date that is not a date, or From after To.
    """
    where, filters = _conditions(session, sku=sku, lot=lot, location=location, user=user,
                                 type=type, date_from=date_from, date_to=date_to)
    per_page = min(_clean_page(per_page, PER_PAGE), MAX_PER_PAGE)
    total = session.scalar(select(func.count()).select_from(LedgerEntry).where(*where))
    pages = max(1, -(-total // per_page))
    page = min(_clean_page(page, 1), pages)
    rows = session.scalars(
        select(LedgerEntry).where(*where).order_by(LedgerEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(LedgerEntry.item), selectinload(LedgerEntry.location),
                 selectinload(LedgerEntry.lot), selectinload(LedgerEntry.user))).all()
    return LedgerPage(list(rows), total, page, pages, per_page, filters)


def ledger_csv_rows(session: Session, *, sku=None, lot=None, location=None, user=None,
                    type=None, date_from=None, date_to=None,
                    chunk_size: int = CSV_CHUNK) -> Iterator[list[str | int]]:
    """The header, then every matching ledger row (newest first), for a CSV export (its
    cells are made formula-safe by the one CSV writer, blueprints.csv_export).

    The filters are checked now (a bad one raises before anything is sent); the rows are
    then read ``chunk_size`` at a time by id (keyset paging), so memory stays bounded however
    long the ledger is.
    """
    where, _ = _conditions(session, sku=sku, lot=lot, location=location, user=user, type=type,
                           date_from=date_from, date_to=date_to)
    return _stream(session, where, max(1, int(chunk_size)))


def _stream(session: Session, where: list, chunk_size: int) -> Iterator[list[str | int]]:
    yield list(CSV_HEADER)
    query = (select(LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.type, Item.sku,
                    Location.code, Lot.number, LedgerEntry.delta, LedgerEntry.qty_after,
                    User.username, LedgerEntry.station, LedgerEntry.reference)
             .join(Item, Item.id == LedgerEntry.item_id)
             .join(Location, Location.id == LedgerEntry.location_id)
             .outerjoin(Lot, Lot.id == LedgerEntry.lot_id)
             .outerjoin(User, User.id == LedgerEntry.user_id)
             .where(*where).order_by(LedgerEntry.id.desc()))
    last_id = None
    while True:
        chunk = query if last_id is None else query.where(LedgerEntry.id < last_id)
        rows = session.execute(chunk.limit(chunk_size)).all()
        for (_, created, kind, sku, code, number, delta, qty_after, username, station,
             reference) in rows:
            yield [created.isoformat(sep=" ", timespec="seconds"), kind, sku, code, number,
                   delta, qty_after, username, station, reference]
        if len(rows) < chunk_size:
            return
        last_id = rows[-1][0]
