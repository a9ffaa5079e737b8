"""GS1-128 / GS1 DataMatrix scans and GS1 Digital Link URIs: one scan fills item (GTIN,
AI 01/02), lot (AI 10), expiry (AI 17), serial (AI 21) and quantity (AI 30/37). Parsed with
biip.

A scan is read as GS1 only when it says so: a symbology identifier (]C1 GS1-128,
]d2 GS1 DataMatrix, ]Q3 GS1 QR, ]e0 GS1 DataBar), a GS (FNC1) separator, the human-readable
"(01)…" form, AI 01 or 02 followed by 14 digits, or a Digital Link URI with a GTIN
("https://…/01/<gtin>/10/<lot>…"). A bare GTIN-13 or a SKU stays what it is.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from biip import ParseConfig
from biip._exceptions import BiipException
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message

from .errors import ValidationError
from .gtin import normalize_gtin

SYMBOLOGY = re.compile(r"^\](C1|d2|Q3|e0)")
GS = "\x1d"
# Scanners configured to send FNC1 as another character commonly use these.
SEPARATORS = (GS, "~", "|")


@dataclass
class Gs1Scan:
    gtin: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None
    qty: int | None = None


# What says "GS1" (see above). One expression that Python's re and JavaScript's RegExp read
# alike: the pack page hands it to the device, which queues such a scan unchecked offline
# (static/js/offline-pack.js) rather than parse it.
LOOKS_LIKE = re.compile(r"^(?:\](?:C1|d2|Q3|e0)|\(\d{2,4}\)|0[12]\d{14}"
                        r"|[hH][tT][tT][pP][sS]?://[^?#]*/01/\d)|\x1d")
DIGITAL_LINK = re.compile(r"^[hH][tT][tT][pP][sS]?://")


def looks_like_gs1(raw: str) -> bool:
    return bool(LOOKS_LIKE.search(raw))


def parse(raw: str) -> Gs1Scan | None:
    """The GS1 data in a scan, or None when the scan is not GS1 (a SKU, a code, a lot)."""
    raw = (raw or "").strip()
    if not looks_like_gs1(raw):
        return None
    body = SYMBOLOGY.sub("", raw).lstrip(GS)
    config = ParseConfig(separator_chars=SEPARATORS)
    try:
        if DIGITAL_LINK.match(raw):
            message = GS1DigitalLinkURI.parse(raw, config=config).as_gs1_message()
        elif body.startswith("("):
            message = GS1Message.parse_hri(body, config=config)
        else:
            message = GS1Message.parse(body, config=config)
    except BiipException as exc:
        raise ValidationError(f"This GS1 label could not be read: {exc} Scan it again, or "
                              f"scan the item and lot separately.", field="scan") from exc
    scan = Gs1Scan()
    for element in message.element_strings:
        ai, value = element.ai.ai, element.value
        if ai in ("01", "02"):
            scan.gtin = normalize_gtin(value)  # verifies the check digit
        elif ai == "10":
            scan.lot = value
        elif ai == "17":
            scan.expiry = _expiry(value)
        elif ai == "21":
            scan.serial = value
        elif ai in ("30", "37"):
            if not value.isdigit():  # "]C130" and nothing after it, say
                raise ValidationError("The label's count (AI 30/37) is not a number. Scan it "
                                      "again, or type the quantity.", field="qty")
            qty = int(value)
            if qty <= 0:
                raise ValidationError("The label's count (AI 30/37) must be at least 1.",
                                      field="qty")
            scan.qty = qty
    return scan


def _expiry(value: str) -> dt.date:
    """AI 17 is YYMMDD; DD 00 means the last day of the month (GS1 General Specifications)."""
    if not re.fullmatch(r"\d{6}", value):
        raise ValidationError(f"The label's expiry date {value} is not a date.",
                              field="expiry")
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:6])
    if year - dt.date.today().year > 49:  # GS1's century rule: 51 years back, 49 ahead
        year -= 100
    try:
        if day == 0:
            nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
            return nxt - dt.timedelta(days=1)
        return dt.date(year, month, day)
    except ValueError as exc:
        raise ValidationError(f"The label's expiry date {value} is not a date.",
                              field="expiry") from exc
