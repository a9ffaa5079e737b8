"""The JSON API under /api/v1: bearer tokens, JSON errors with stable codes, OpenAPI."""

from __future__ import annotations

import re
from functools import wraps
from urllib.parse import quote

from flask import Blueprint, current_app, g, jsonify, request, url_for
from pydantic import ValidationError as PydanticError
from werkzeug.exceptions import HTTPException

from lotline.errors import DomainError, ValidationError
from lotline.extensions import csrf, db
from lotline.users import user_for_token

from ..errors import api_error
from . import bodies

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


def json_body(model: type[bodies.Body]) -> dict:
    """The request's JSON body checked against ``model``: the fields sent, as plain values.
    The app's JSON parser reads it first (a key given twice, nesting too deep, not JSON)."""
    data = request.get_json(silent=True)
    if data is None:
        if request.is_json and request.get_data():
            raise ValidationError(f"The body is not JSON Lotline can read: {_why_not()}")
        raise ValidationError("The body must be JSON (Content-Type: application/json).")
    return bodies.parse(model, request.get_data())


def address(endpoint: str, **values) -> str:
    """A resource's address (a ``Location`` header) with each path value percent-encoded
    whole, "/" as %2F, as the document's path parameters are sent (a name may hold "/";
    the route's <path:…> takes it either way)."""
    marked = {name: f"\x00{n}\x00" for n, name in enumerate(values)}
    path = url_for(endpoint, **marked)
    for n, value in enumerate(values.values()):
        path = path.replace(f"%00{n}%00", quote(str(value), safe=""))
    return path


def query_arg(name: str):
    """A query parameter checked against its rule (:data:`bodies.QUERY_PARAMETERS`), or None
    when it was left out; ``?page=null`` or an empty ``status`` is refused, naming it."""
    return bodies.query_value(name, request.args.get(name))


def query_page() -> int:
    """The ``page`` query parameter as a number; the first page when it was left out."""
    return int(query_arg("page") or 1)


def _why_not() -> str:
    """What the app's JSON parser says of the body (a key given twice, a syntax error)."""
    try:
        current_app.json.loads(request.get_data())
    except ValueError as exc:
        return str(exc)
    return "it is not an object."


def operation(method: str, path: str, *, summary: str, role: str = "packer",
              body: type[bodies.Body] | None = None, response: type[bodies.Answer] | None = None,
              params: list | None = None, status: int = 200, errors: tuple = ()):
    """Register a route, its role rule and its OpenAPI description in one place. ``body``
    validates the request's JSON; the view returns a dict (and a status, headers), sent
    after ``response`` has checked it: the document states both."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not g.api_user.has_role(role):
                return error(403, "forbidden", f"This needs a {role} (or higher) token.")
            return _answer(response, view(*args, **kwargs))

        wrapped.required_roles = (role,)
        # What the view reads (blueprints.accepts): its JSON body's keys and its query
        # parameters, from the same declaration that validates and documents them.
        wrapped.accepts = getattr(view, "accepts", frozenset()) | frozenset(
            body.model_fields if body else ()) | {
            p["name"] for p in params or () if p.get("in") == "query"}
        api.add_url_rule(path, view_func=wrapped, methods=[method])
        op = {"summary": summary, "operationId": view.__name__,
              "description": f"Requires a {role} token or higher.",
              "responses": {str(status): {"description": "OK"}}}
        if response:
            MODELS.add(response)
            op["responses"][str(status)]["content"] = {
                "application/json": {"schema": ref(response)}}
        for code in ("401", "403", "422", *map(str, errors)):
            op["responses"][code] = {"$ref": "#/components/responses/Error"}
        if body is not None:
            MODELS.add(body)
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(body)}}}
        names = re.findall(r"<(?:\w+:)?(\w+)>", path)
        op["parameters"] = [{"name": n, "in": "path", "required": True,
                             "schema": bodies.path_schema(n)} for n in names] + (params or [])
        if not op["parameters"]:
            del op["parameters"]
        openapi_path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        OPERATIONS[(method.lower(), "/api/v1" + openapi_path)] = op
        return wrapped

    return decorator


# The models the document's components hold (filled by @operation).
MODELS: set[type] = set()


def ref(model: type) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _answer(model: type[bodies.Answer] | None, rv):
    """A view's dict, checked against its declared response model, as JSON."""
    if model is None or not isinstance(rv, dict | tuple):
        return rv
    data, *rest = rv if isinstance(rv, tuple) else (rv,)
    try:  # a field the view left out stays out (an optional field is never sent as null)
        data = model.model_validate(data).model_dump(mode="json", exclude_unset=True)
    except PydanticError:
        # A bug, not the caller's fault, and the change may have committed: a 500 would
        # invite a retry that applies it again. Tests fail on it; a server logs it.
        if current_app.testing:
            raise
        current_app.logger.exception("%s answered outside its model %s", request.endpoint,
                                     model.__name__)
    response = jsonify(data)
    return (response, *rest) if rest else response


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
