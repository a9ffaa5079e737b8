"""API tokens over the API (admin): list them, revoke one."""

from flask import jsonify

from lotline import users as domain
from lotline.db import transaction
from lotline.extensions import db

from . import EXTRA_SCHEMAS, operation

_STAMP = {"type": ["string", "null"], "format": "date-time"}
EXTRA_SCHEMAS["ApiToken"] = {"type": "object", "properties": {
    "prefix": {"type": "string", "description": "The token's public part: ll_<prefix>_…"},
    "username": {"type": "string"},
    "label": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {**_STAMP, "description": "Refused from then on; null: until revoked"},
    "last_used_at": {**_STAMP, "description": "Written at most once a minute"},
    "revoked": {"type": "boolean"},
    "state": {"type": "string", "enum": ["active", "revoked", "expired", "user_inactive"]},
}, "required": ["prefix", "username", "label", "created_at", "expires_at", "last_used_at",
                "revoked", "state"]}
EXTRA_SCHEMAS["ApiTokens"] = {"type": "object", "properties": {
    "tokens": {"type": "array", "items": {"$ref": "#/components/schemas/ApiToken"}}},
    "required": ["tokens"]}


@operation("GET", "/tokens", role="admin", summary="List the API tokens (never their secrets)",
           response="ApiTokens")
def list_tokens():
    rows = domain.list_tokens(db.session)
    return jsonify({"tokens": [domain.token_summary(row) for row in rows]})


@operation("POST", "/tokens/<prefix>/revoke", role="admin",
           summary="Revoke an API token: it is refused from now on", response="ApiToken",
           errors=(404,))
def revoke_token(prefix):
    with transaction(db.session):
        row = domain.revoke_token(db.session, prefix)
        summary = domain.token_summary(row)
    return jsonify(summary)
