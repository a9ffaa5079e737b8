"""System settings over the API (changes by admin tokens only)."""

from flask import g, jsonify

from lotline import settings as domain
from lotline.db import transaction
from lotline.extensions import db

from . import json_body, operation
from .schema import Field

SETTINGS_BODY = {
    domain.REQUIRE_LOT_SERIAL_AT_PACK: Field(bool, description="Require Lot/Serial at Pack"),
    domain.WAREHOUSE_TIME_ZONE: Field(str, description="The warehouse's IANA time zone "
                                      "(dates of expiry and shelf life are judged there)"),
}


@operation("GET", "/settings", summary="Read the system settings", response="Settings")
def get_settings():
    return jsonify(domain.all_settings(db.session))


@operation("PATCH", "/settings", summary="Change system settings", role="admin",
           body=SETTINGS_BODY, response="Settings")
def update_settings():
    changes = json_body(SETTINGS_BODY)
    with transaction(db.session):
        for key, value in changes.items():
            domain.set_setting(db.session, key, value, g.api_user)
    return jsonify(domain.all_settings(db.session))
