"""The sign-in throttle over the API (admin): list the locked names, unlock one."""

from flask import g, jsonify

from lotline import throttle
from lotline.db import transaction
from lotline.extensions import db

from . import EXTRA_SCHEMAS, json_body, operation
from .schema import Field

UNLOCK_BODY = {"username": Field(str, required=True, max_length=64, extra={"minLength": 1},
                                 description="The name as listed (a user's name also clears "
                                 "their trusted devices' counts)")}

EXTRA_SCHEMAS["SignInLock"] = {"type": "object", "properties": {
    "username": {"type": "string"},
    "trusted_device": {"type": "boolean",
                       "description": "Counted for a device the user signed in on before"},
    "failures": {"type": "integer", "minimum": 1},
    "locked_until": {"type": ["string", "null"], "format": "date-time",
                     "description": "null: failures counted, not locked"},
    "role": {"type": ["string", "null"], "description": "null: no user has this name"},
}, "required": ["username", "trusted_device", "failures", "locked_until", "role"]}
EXTRA_SCHEMAS["SignInLocks"] = {"type": "object", "properties": {
    "locks": {"type": "array", "items": {"$ref": "#/components/schemas/SignInLock"}}},
    "required": ["locks"]}
EXTRA_SCHEMAS["SignInUnlocked"] = {"type": "object", "properties": {
    "username": {"type": "string"},
    "cleared": {"type": "integer", "minimum": 1, "description": "Counts cleared"},
}, "required": ["username", "cleared"]}


@operation("GET", "/sign-in-locks", role="admin", response="SignInLocks",
           summary="List the names locked, or with failed sign-ins counted, in the window")
def list_sign_in_locks():
    stamp = lambda value: value.isoformat(timespec="seconds") + "Z" if value else None  # noqa: E731
    return jsonify({"locks": [
        {"username": row.name, "trusted_device": row.device, "failures": row.failures,
         "locked_until": stamp(row.locked_until), "role": row.role}
        for row in throttle.sign_in_locks(db.session)]})


@operation("POST", "/sign-in-locks/unlock", role="admin", body=UNLOCK_BODY,
           response="SignInUnlocked", errors=(404,),
           summary="Unlock a name: clear its failed sign-ins (and its trusted devices')")
def unlock_sign_in():
    username = json_body(UNLOCK_BODY)["username"].strip()
    with transaction(db.session):
        cleared = throttle.unlock_sign_in(db.session, username, g.api_user)
    return jsonify({"username": username, "cleared": cleared})
