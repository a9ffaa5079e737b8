"""The JSON API under /api/v1: bearer tokens, JSON errors with stable codes, OpenAPI."""

from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from lotline.errors import DomainError, ValidationError
from lotline.extensions import csrf, db
from lotline.users import user_for_token

from ..errors import api_error
from . import schema as s

api = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api)  # bearer tokens, never cookies: no ambient credential to forge

# (method, path) -> OpenAPI operation; filled by @operation, served by openapi.json
OPERATIONS: dict[tuple[str, str], dict] = {}
PUBLIC = {"api.openapi"}


def error(status: int, code: str, message: str, **details):
    body = {"error": {"code": code, "message": message}}
    body["error"].update({k: v for k, v in details.items() if v is not None})
    return jsonify(body), status


@api.before_request
def authenticate():
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = user_for_token(db.session, token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        return error(401, "unauthorized", "Send a valid API token as 'Authorization: Bearer …'.")
    g.api_user = user
    return None


@api.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return error(exc.status, exc.code, exc.message, **exc.details)


@api.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return api_error(exc)


def json_body(schema: dict) -> dict:
    data = request.get_json(silent=True)
    if data is None:
        if request.is_json and request.get_data():
            raise ValidationError(f"The body is not JSON Lotline can read: {_why_not()}")
        raise ValidationError("The body must be JSON (Content-Type: application/json).")
    return s.parse(schema, data)


def query_page() -> int:
    """The ``page`` query parameter: a whole number from 1, or absent (the first page).
    Anything else (``null``, ``abc``, ``0``, empty) is refused naming the parameter."""
    raw = request.args.get("page")
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        raise ValidationError(f"page is a whole number from 1, not {raw!r}.", field="page")
    return int(raw)


def query_choice(name: str, choices) -> str | None:
    """A query parameter that is one of ``choices``, or absent (None); an empty or other
    value is refused naming the parameter."""
    raw = request.args.get(name)
    if raw is not None and raw not in choices:
        raise ValidationError(f"{name} is one of {', '.join(choices)}, not {raw!r}.",
                              field=name)
    return raw


def _why_not() -> str:
    """What the app's JSON parser says of the body (a key given twice, a syntax error)."""
    try:
        current_app.json.loads(request.get_data())
    except ValueError as exc:
        return str(exc)
    return "it is not an object."


def operation(method: str, path: str, *, summary: str, role: str = "packer",
              body: dict | None = None, response: str | None = None, params: list | None = None,
              status: int = 200, errors: tuple = ()):
    """Register a route, its role rule and its OpenAPI description in one place."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not g.api_user.has_role(role):
                return error(403, "forbidden", f"This needs a {role} (or higher) token.")
            return view(*args, **kwargs)

        wrapped.required_roles = (role,)
        # What the view reads (blueprints.accepts): its JSON body's keys and its query
        # parameters, from the same declaration that validates and documents them.
        wrapped.accepts = getattr(view, "accepts", frozenset()) | frozenset(body or ()) | {
            p["name"] for p in params or () if p.get("in") == "query"}
        api.add_url_rule(path, view_func=wrapped, methods=[method])
        op = {"summary": summary, "operationId": view.__name__,
              "description": f"Requires a {role} token or higher.",
              "responses": {str(status): {"description": "OK"}}}
        if response:
            op["responses"][str(status)]["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}
        for code in ("401", "403", "422", *map(str, errors)):
            op["responses"][code] = {"$ref": "#/components/responses/Error"}
        if body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": s.to_openapi(body)}}}
        names = re.findall(r"<(?:\w+:)?(\w+)>", path)
        op["parameters"] = [{"name": n, "in": "path", "required": True,
                             "schema": {"type": "string"}} for n in names] + (params or [])
        if not op["parameters"]:
            del op["parameters"]
        openapi_path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        OPERATIONS[(method.lower(), "/api/v1" + openapi_path)] = op
        return wrapped

    return decorator


# Response schemas other modules add to the OpenAPI components.
EXTRA_SCHEMAS: dict[str, dict] = {}


def extra_schemas() -> dict:
    return dict(EXTRA_SCHEMAS)


from . import (  # noqa: E402, F401  (registers routes)
    inventory,
    items,
    lots,
    openapi,
    orders,
    settings,
    sign_in_locks,
    tokens,
    users,
)
