"""System settings over the API (changes by admin tokens only)."""

from typing import Literal

from flask import g
from pydantic import Field

from lotline import settings as domain
from lotline.db import transaction
from lotline.extensions import db

from . import json_body, operation
from .bodies import Answer, Body

# The IANA names this machine knows (lotline.settings.clean_time_zone), stated in full.
TimeZone = Literal[tuple(sorted(domain.time_zones()))]  # type: ignore[valid-type]


class SettingChanges(Body):
    require_lot_serial_at_pack: bool = Field(None, description="Require Lot/Serial at Pack")
    warehouse_time_zone: TimeZone = Field(None, description="The warehouse's IANA time zone "
                                          "(dates of expiry and shelf life are judged there)")


class Settings(Answer):
    require_lot_serial_at_pack: bool
    warehouse_time_zone: str


@operation("GET", "/settings", summary="Read the system settings", response=Settings)
def get_settings():
    return domain.all_settings(db.session)


@operation("PATCH", "/settings", summary="Change system settings", role="admin",
           body=SettingChanges, response=Settings)
def update_settings():
    changes = json_body(SettingChanges)
    with transaction(db.session):
        for key, value in changes.items():
            domain.set_setting(db.session, key, value, g.api_user)
    return domain.all_settings(db.session)
