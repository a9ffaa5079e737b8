"""System settings, stored in the database, every change recorded with who and when."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import forget_found, found_once
from .errors import ValidationError
from .models import Setting, SettingChange, User

REQUIRE_LOT_SERIAL_AT_PACK = "require_lot_serial_at_pack"
WAREHOUSE_TIME_ZONE = "warehouse_time_zone"
# key -> (type, default, label)
SETTINGS = {
    REQUIRE_LOT_SERIAL_AT_PACK: (bool, False, "Require Lot/Serial at Pack"),
    WAREHOUSE_TIME_ZONE: (ZoneInfo, "UTC", "Warehouse time zone"),
}


def _decode(key: str, raw: str | None):
    kind, default, _ = SETTINGS[key]
    if raw is None:
        return default
    if kind is bool:
        return raw == "true"
    if kind is ZoneInfo:
        return raw  # the IANA name; warehouse_today() turns it into a zone
    return kind(raw)


def _encode(key: str, value) -> str:
    kind = SETTINGS[key][0]
    if kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(f"{SETTINGS[key][2]} is true or false.", field=key)
        return "true" if value else "false"
    if kind is ZoneInfo:
        return clean_time_zone(value, key)
    return str(kind(value))


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time-zone names this machine knows (the API's document lists them)."""
    return frozenset(available_timezones() | {"UTC"})


def clean_time_zone(value, key: str = WAREHOUSE_TIME_ZONE) -> str:
    """An IANA time-zone name (Europe/Amsterdam, America/Chicago, UTC)."""
    name = str(value or "").strip()
    if name not in time_zones():
        raise ValidationError(f"{name or 'An empty name'} is not a time zone. Give its IANA "
                              f"name, such as Europe/Amsterdam or America/Chicago.", field=key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{name} is not a time zone this server knows.",
                              field=key) from None
    return name


def warehouse_today(session: Session, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the warehouse is (its time-zone setting): the date every
    expiry and shelf-life rule is judged by."""
    return today_in(get_setting(session, WAREHOUSE_TIME_ZONE), now)


def today_in(zone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the time zone named ``zone``."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(zone)).date()


_ALL = select(Setting.key, Setting.value)


def get_setting(session: Session, key: str):
    """The settings are read together, once per transaction (every pack scan asks several
    rules), with Core (a plain row per setting)."""
    stored = found_once(session, "settings", "",
                        lambda: dict(session.connection().execute(_ALL).all()))
    return _decode(key, stored.get(key))


def stored(key: str):
    """The stored value of ``key`` as a scalar subquery, for a statement that reads it along
    with other things (:func:`decode` turns what it returns into the setting's value)."""
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


def decode(key: str, raw: str | None):
    return _decode(key, raw)


def all_settings(session: Session) -> dict:
    rows = {r.key: r.value for r in session.scalars(select(Setting))}
    return {key: _decode(key, rows.get(key)) for key in SETTINGS}


def set_setting(session: Session, key: str, value, user: User | None) -> bool:
    """Set a setting; returns whether it changed. Each change is recorded."""
    if key not in SETTINGS:
        raise ValidationError(f"Unknown setting {key}.", field=key)
    new = _encode(key, value)
    row = session.get(Setting, key)
    old = row.value if row else None
    if _decode(key, old) == _decode(key, new):  # an unset setting already has its default
        return False
    if row is None:
        session.add(Setting(key=key, value=new))
    else:
        row.value = new
    session.flush()
    forget_found(session, "settings", "")
    session.add(SettingChange(key=key, old_value=old, new_value=new,
                              user_id=user.id if user else None))
    session.flush()
    return True


def recent_changes(session: Session, limit: int = 20) -> list[SettingChange]:
    return list(session.scalars(
        select(SettingChange).order_by(SettingChange.id.desc()).limit(limit)
    ))
