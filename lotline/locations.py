"""Locations: the barcoded places stock sits in."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import write_transaction
from .errors import Conflict, NotFound, ValidationError
from .models import LOCATION_TYPES, Inventory, Location

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")


def clean_code(value) -> str:
    code = str(value or "").strip().upper()
    if not CODE_RE.match(code):
        raise ValidationError(
            "A location code has 1 to 32 letters, digits or . _ / - and starts with a letter "
            "or digit.", field="code")
    return code


def create_location(session: Session, code, zone: str = "", type: str = "storage") -> Location:
    code = clean_code(code)
    if type not in LOCATION_TYPES:
        raise ValidationError(f"Type is one of {', '.join(LOCATION_TYPES)}.", field="type")
    zone = str(zone or "").strip()
    if len(zone) > 32:
        raise ValidationError("A zone has at most 32 characters.", field="zone")
    if session.scalar(select(Location.id).where(Location.code == code)):
        raise Conflict(f"Location {code} already exists.", field="code")
    location = Location(code=code, zone=zone, type=type, active=True)
    session.add(location)
    session.flush()
    return location


def add_location(session: Session, code, zone: str = "", type: str = "storage") -> Location:
    """Create a location and commit it (the Locations screen, the API)."""
    return _committed(session, lambda: create_location(session, code, zone, type))


def import_locations(session: Session, text: str) -> int:
    """Create the locations of a CSV file and commit them, all or none."""
    return _committed(session, lambda: import_csv(session, text))


def _committed(session: Session, work):
    """Run ``work`` as one write transaction. Two supervisors adding the same code at once:
    on SQLite the write lock (BEGIN IMMEDIATE) is taken before the check, so the second one's
    check sees the first one's location; on PostgreSQL the second insert fails at the unique
    key once the first commits, and the retry's check sees it. Either way the second is told
    the location exists (409), never a server error."""
    for attempt in range(2):
        try:
            with write_transaction(session):
                return work()
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


_BY_CODE = select(Location).where(Location.code == bindparam("code"))  # built once: every scan


def get_location(session: Session, code) -> Location:
    code = str(code if code is not None else "").strip().upper()
    if not code:
        raise NotFound("No location was scanned. Scan the location's label.",
                       code="unknown_location")
    location = session.scalar(_BY_CODE, {"code": code})
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
    """Create locations from CSV (header ``code,zone,type``). All or nothing; returns the count."""
    try:
        return _import_rows(session, csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise ValidationError(f"The file is not readable CSV: {exc}.", field="file") from exc


def _import_rows(session: Session, reader: csv.DictReader) -> int:
    if not reader.fieldnames or "code" not in [f.strip().lower() for f in reader.fieldnames]:
        raise ValidationError("The CSV needs a header row with at least a 'code' column "
                              "(and optionally 'zone' and 'type').", field="file")
    count = 0
    seen = set()
    for n, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        try:
            code = clean_code(row.get("code"))
            if code in seen:
                raise Conflict(f"Location {code} appears twice in the file.")
            seen.add(code)
            create_location(session, code, row.get("zone", ""), row.get("type") or "storage")
        except (ValidationError, Conflict) as exc:
            raise ValidationError(f"Line {n}: {exc.message}", field="file") from exc
        count += 1
    if not count:
        raise ValidationError("The CSV has no locations in it.", field="file")
    return count


def list_locations(session: Session, q: str = "", include_inactive: bool = True):
    query = select(Location).order_by(Location.code)
    if q:
        text = q.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(or_(Location.code.like(f"%{text}%", escape="\\"),
                                func.upper(Location.zone).like(f"%{text}%", escape="\\")))
    if not include_inactive:
        query = query.where(Location.active)
    return list(session.scalars(query))


def stock_held(session: Session, location_ids: list[int] | None = None) -> dict[int, tuple]:
    """Per location id: (items held, units held), counting only stock on hand."""
    query = (select(Inventory.location_id, func.count(), func.sum(Inventory.qty))
             .where(Inventory.qty > 0).group_by(Inventory.location_id))
    if location_ids is not None:
        query = query.where(Inventory.location_id.in_(location_ids))
    return {loc_id: (items, int(units)) for loc_id, items, units in session.execute(query)}
