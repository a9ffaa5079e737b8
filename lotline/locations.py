"""Locations: the barcoded places stock sits in."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from . import csv_file
from .commands import refuse_command
from .db import found_once, locked_once, run_in_transaction
from .errors import Conflict, NotFound, ValidationError
from .models import LOCATION_TYPES, Inventory, Location
from .paging import Page, page_count, page_number
from .text import check_free_text

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")


def clean_code(value) -> str:
    code = str(value or "").strip().upper()
    refuse_command(code, "location code", "code")
    if not CODE_RE.match(code):
        raise ValidationError(
            "A location code has 1 to 32 letters, digits or . _ / - and starts with a letter "
            "or digit.", field="code")
    return code


def create_location(session: Session, code, zone: str = "", type: str = "storage") -> Location:
    return _insert(session, *_fields(code, zone, type))


def _fields(code, zone, type) -> tuple[str, str, str]:
    """A new location's code, zone and type, checked."""
    code = clean_code(code)
    if type not in LOCATION_TYPES:
        raise ValidationError(f"Type is one of {', '.join(LOCATION_TYPES)}.", field="type")
    return code, clean_zone(zone), type


def clean_zone(value) -> str:
    """A location's zone: at most 32 characters of free text (:mod:`lotline.text`)."""
    zone = str(value or "").strip()
    if len(zone) > 32:
        raise ValidationError("A zone has at most 32 characters.", field="zone")
    return check_free_text(zone, field="zone", label="The zone")


def _insert(session: Session, code: str, zone: str, type: str) -> Location:
    if session.scalar(select(Location.id).where(Location.code == code)):
        raise Conflict(f"Location {code} already exists.", field="code")
    location = Location(code=code, zone=zone, type=type, active=True)
    session.add(location)
    session.flush()
    return location


def add_location(session: Session, code, zone: str = "", type: str = "storage") -> Location:
    """Create a location and commit it (the Locations screen, the API).

    Two supervisors adding the same code at once: on SQLite the write lock (BEGIN IMMEDIATE)
    is taken before the check, so the second one's check sees the first one's location; on
    PostgreSQL the second insert fails at the unique key once the first commits (or, for two
    imports with the same codes in another order, one is a deadlock's victim), and the retry's
    check sees the other's rows. Either way the second is told the location exists (409, or
    the import's 422 naming the line), never a server error."""
    return run_in_transaction(session, lambda: create_location(session, code, zone, type))


def import_locations(session: Session, text: str) -> int:
    """Create the locations of a CSV file and commit them, all or none (as add_location)."""
    return run_in_transaction(session, lambda: import_csv(session, text))


_BY_CODE = select(Location).where(Location.code == bindparam("code"))  # built once: every scan
# Read afresh under the lock: the session may hold it as read before the lock.
_LOCK_BY_CODE = _BY_CODE.with_for_update().execution_options(populate_existing=True)


def get_location(session: Session, code, *, lock: bool = False) -> Location:
    """The location ``code`` names (``lock``: read with ``FOR UPDATE``, for a change)."""
    code = str(code if code is not None else "").strip().upper()
    if not code:
        raise NotFound("No location was scanned. Scan the location's label.",
                       code="unknown_location")
    if lock:
        return locked_once(session, "location", code,
                           lambda: _found(code, session.scalar(_LOCK_BY_CODE, {"code": code})))
    return found_once(session, "location", code,
                      lambda: _found(code, session.scalar(_BY_CODE, {"code": code})))


def _found(code: str, location: Location | None) -> Location:
    if location is None:
        raise NotFound(f"No location {code}. Scan the location's label again.",
                       code="unknown_location")
    return location


def set_active(session: Session, location: Location, active: bool) -> Location:
    if not active:
        held = session.scalar(select(func.count()).select_from(Inventory).where(
            Inventory.location_id == location.id, Inventory.qty > 0))
        if held:
            raise Conflict(f"{location.code} still holds stock. Move or count it out first.",
                           code="location_not_empty")
    location.active = active
    session.flush()
    return location


def import_csv(session: Session, text: str) -> int:
    """Create locations from CSV (header ``code,zone,type``). All or nothing; returns the
    count. A refusal names the file's line and what to change in it."""
    rows: dict[str, tuple[int, str, str]] = {}  # code -> (line, zone, type)
    for n, row in csv_file.rows(text, ("code",), ("zone", "type")):
        code = csv_file.cell(n, clean_code, row["code"], (
            f"the code “{row['code']}” is not a location code Lotline takes: 1 to 32 letters, "
            f"digits or . _ / -, starting with a letter or digit, not with CMD:. Change it in "
            f"the code column."))
        type = row.get("type") or "storage"
        if type not in LOCATION_TYPES:
            raise csv_file.line_error(n, f"the type “{type}” is not a location type. Change the "
                                         f"type column to one of {', '.join(LOCATION_TYPES)} "
                                         f"(empty means storage).")
        zone = row.get("zone", "")
        if len(zone) > 32:
            raise csv_file.line_error(n, "the zone has more than 32 characters. Shorten it in "
                                         "the zone column.")
        zone = csv_file.cell(n, clean_zone, zone, (
            "the zone has an invisible control character in it. Type the zone again in the "
            "zone column."))
        if code in rows:
            raise csv_file.line_error(n, f"location {code} is in an earlier row of the file "
                                         f"too. Delete one of the two rows.")
        rows[code] = (n, zone, type)
    if not rows:
        raise ValidationError("The file has no locations under its header row. Add one row "
                              "per location: code, zone, type.", field="file")
    # Inserted in code order: two imports sharing codes then wait for each other's rows in
    # the same order instead of deadlocking (PostgreSQL); the loser is told they exist.
    for code in sorted(rows):
        n, zone, type = rows[code]
        try:
            _insert(session, code, zone, type)
        except Conflict as exc:
            raise csv_file.line_error(n, f"location {code} already exists in Lotline. Delete "
                                         f"this row from the file.") from exc
    return len(rows)


def list_locations(session: Session, q: str = "", include_inactive: bool = True):
    return list(session.scalars(_matching(q, include_inactive)))


def _matching(q: str, include_inactive: bool = True):
    """Locations whose code or zone contains ``q`` (any case), in code order."""
    query = select(Location).order_by(Location.code)
    if q:
        text = q.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(or_(Location.code.like(f"%{text}%", escape="\\"),
                                func.upper(Location.zone).like(f"%{text}%", escape="\\")))
    if not include_inactive:
        query = query.where(Location.active)
    return query


PER_PAGE = 25


def search_locations(session: Session, q: str = "", page: int | str = 1,
                     per_page: int = PER_PAGE) -> Page:
    """One page of locations whose code or zone contains ``q``; a page past the last shows the
    last, and a page that is not a number the first."""
    q = (q or "").strip()[:64]
    query = _matching(q)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = page_count(total, per_page)
    page = min(page_number(page), pages)
    rows = session.scalars(query.order_by(None).order_by(Location.code, Location.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(rows), total, page, pages, q)


def stock_held(session: Session, location_ids: list[int] | None = None) -> dict[int, tuple]:
    """Per location id: (items held, units held), counting only stock on hand."""
    query = (select(Inventory.location_id, func.count(), func.sum(Inventory.qty))
             .where(Inventory.qty > 0).group_by(Inventory.location_id))
    if location_ids is not None:
        query = query.where(Inventory.location_id.in_(location_ids))
    return {loc_id: (items, int(units)) for loc_id, items, units in session.execute(query)}
