"""The scanner commands: printed barcodes a packer scans instead of tapping (SCAN-UX.md).

The texts are the warehouse's vocabulary, printed on the command sheet and on each station's
sheet; the scan engine (``blueprints/scanflow.py``) acts on them. ``CMD:`` is reserved:
no lot, SKU, location or order number may start with it, or a scan could not tell a command
from a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DomainError, ValidationError

PREFIX = "CMD:"
CONFIRM = "CMD:CONFIRM"
CANCEL = "CMD:CANCEL"
CLOSE = "CMD:CLOSE"
NEXT = "CMD:NEXT"
SKIP = "CMD:SKIP"
SHORT = "CMD:SHORT"
STATION = "CMD:STATION:"  # followed by the station's name


@dataclass(frozen=True)
class Command:
    text: str
    name: str  # what it does, in a few words (the sheet's caption, the step's hint)
    where: str  # where it applies (the sheet's second line)


SHEET = (
    Command(CONFIRM, "Confirm", "Quantity: confirm the number shown (a supervisor, after "
                                "an over-receipt refusal: receive it anyway)"),
    Command(CANCEL, "Cancel", "Any step: start this scan over"),
    Command(CLOSE, "Close carton", "Pack: close the open carton (weight optional)"),
    Command(NEXT, "Next order", "Pick and Pack: open the next order waiting"),
    Command(SKIP, "Skip location", "Pick: send me to another location"),
    Command(SHORT, "Short: found fewer", "Pick: then type how many you found; with no stock "
                                         "left anywhere, records the line short"),
)


def normal(text) -> str:
    """A command as scanned or typed, in its printed form: ``cmd:close`` is CMD:CLOSE; a
    station's name keeps its own case."""
    text = str(text or "").strip()
    if text.upper().startswith(STATION):
        return STATION + text[len(STATION):]
    return text.upper()


def is_confirm(value) -> bool:
    return normal(value) == CONFIRM


def known(text: str) -> bool:
    """A command's text (printed on the sheets), whether or not this screen offers it."""
    return text in {c.text for c in SHEET} or text.startswith(STATION)


def is_command(value) -> bool:
    return str(value or "").strip().upper().startswith(PREFIX)


def refuse_command(value, what: str, field: str) -> None:
    """Refuse ``value`` as a ``what`` (lot, SKU, location, order number) when it is a
    command's text: the prefix is reserved for the printed command barcodes."""
    if is_command(value):
        raise ValidationError(
            f"{str(value).strip()} is a scanner command, not a {what}. "
            f"Scan the {what} on its label.", field=field, code="reserved_prefix")


STATION_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$"


def station_name(value) -> str:
    """The station a ``CMD:STATION:<name>`` scan names, checked."""
    name = str(value or "").strip()[len(STATION):].strip()
    if not re.match(STATION_NAME_RE, name):
        raise DomainError("validation_error", "A station name has 1 to 32 letters, digits, "
                          "spaces or . _ - after CMD:STATION:. Scan the station's sheet again.")
    return name
