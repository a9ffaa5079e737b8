"""Reading what a scanner sent: the text cleaned, a typed number told from a barcode, a GS1
label spread over the steps it fills. Used by the scan-flow engine and its commands."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from lotline import gs1
from lotline.errors import DomainError

if TYPE_CHECKING:
    from .scanflow import Flow


def clean_scan(raw) -> str:
    """Strip whitespace and the scanner's configured prefix/suffix."""
    value = str(raw or "").strip()
    if not value:
        return value
    config = current_app.config
    prefix, suffix = config["SCAN_PREFIX"], config["SCAN_SUFFIX"]
    if prefix and value.startswith(prefix):
        value = value[len(prefix):]
    if suffix and value.endswith(suffix):
        value = value[: -len(suffix)]
    return value.strip()


def new_key() -> str:
    return uuid.uuid4().hex


def expand_gs1(flow: Flow, session: Session, form, extra: dict):
    """A GS1 scan in any step's field fills every step it has data for (item by GTIN, lot,
    serial, quantity) that is still empty; its expiry rides along for the commit. A GTIN
    that is not the item already scanned is refused."""
    names = {s.name for s in flow.steps}
    for step in flow.steps:
        raw = clean_scan(form.get(step.name))
        if not raw:
            continue
        try:
            scan = gs1.parse(raw)
        except DomainError as exc:
            exc.details["field"] = step.name
            raise
        if scan is None:
            continue
        accepted = clean_scan(form.get("sku")) if step.name != "sku" else ""
        if scan.gtin and accepted:
            from lotline.items import find_item

            label, held = find_item(session, scan.gtin), find_item(session, accepted)
            if label.id != held.id:
                raise DomainError("gtin_mismatch", f"This label is for {label.sku}, not "
                                  f"{held.sku}. Scan the label of the item in your hand.",
                                  field=step.name)
        out = MultiDict(form)
        out.pop(step.name, None)
        fills = {"sku": scan.gtin, "lot": scan.lot, "serial": scan.serial,
                 "qty": scan.qty if scan.qty is not None else None}
        for name, value in fills.items():
            if value is not None and name in names and (
                    name == step.name or not clean_scan(form.get(name))):
                out[name] = str(value)
        if scan.expiry is not None:
            extra["expiry"] = scan.expiry.isoformat()
        return out
    return form


def without(form, *names) -> MultiDict:
    """The form without these fields."""
    out = MultiDict(form)
    for name in names:
        out.pop(name, None)
    return out


def typed_number(raw: str) -> bool:
    """A quantity someone typed (at most 7 digits), not a GTIN (8 to 14 digits)."""
    return raw.isdigit() and len(raw) <= 7


def is_item_scan(session, raw, state) -> bool:
    from lotline.items import find_item

    try:
        return "sku" in state and find_item(session, raw).sku == state["sku"]
    except DomainError:
        return False


def scanned_expiry(options) -> dt.date | None:
    """The expiry a GS1 scan (AI 17) brought along, if any (ISO date text in ``options``)."""
    value = options.get("expiry")
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
