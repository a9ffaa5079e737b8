"""What every model module shares: the closed lists of values, the UTC clock, CHECK text."""

from __future__ import annotations

import datetime as dt

ROLES = ("packer", "supervisor", "admin")
LOT_AT_PACK_MODES = ("follow", "always", "never")
LOCATION_TYPES = ("receiving", "storage", "pack")
LEDGER_TYPES = (
    "putaway", "put", "pull", "move-out", "move-in", "cycle-count", "pick", "hold", "release",
    "return",
)
ORDER_STATUSES = ("open", "picking", "picked", "packing", "packed", "shipped", "cancelled")
CARTON_STATUSES = ("open", "closed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
