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


def utc_stamp(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as the API and the CLI write it: 2026-12-06T21:00:00Z."""
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
