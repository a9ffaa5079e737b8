"""Users over the API: an admin's "sign out everywhere"."""

from flask import jsonify

from lotline import users as domain
from lotline.db import transaction
from lotline.extensions import db

from . import EXTRA_SCHEMAS, operation

EXTRA_SCHEMAS["SignedOut"] = {"type": "object", "properties": {
    "username": {"type": "string"},
    "sessions_ended": {"type": "integer", "minimum": 0,
                       "description": "Sign-ins ended: each browser asks for the password"},
}, "required": ["username", "sessions_ended"]}


@operation("POST", "/users/<username>/sign-out-everywhere", role="admin",
           summary="Sign a user out everywhere (every browser asks for the password again)",
           response="SignedOut", errors=(404,))
def sign_out_everywhere(username):
    with transaction(db.session):
        user = domain.user_named(db.session, username)
        ended = domain.sign_out_everywhere(db.session, user)
    return jsonify({"username": user.username, "sessions_ended": ended})
