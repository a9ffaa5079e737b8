"""Error pages and refusals made before any view runs: one module, registered by the app
factory. A page for a plain visit, the error partial for htmx (which swaps 4xx answers)."""

from __future__ import annotations

import json

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from . import is_htmx
from .plain_http import PLAIN_HTTP_MESSAGE, PLAIN_HTTP_TITLE, secure_cookie_lost


def error_page(status: int, title: str, message: str):
    template = "partials/_error.html" if is_htmx() else "error.html"
    return render_template(template, status=status, title=title, message=message,
                           code=title.lower().replace(" ", "_")), status


# The deepest body the API takes is an order with its lines (three levels); a body nested
# deeper is refused before anything walks it (a recursive walk, or the JSON parser itself,
# would raise RecursionError: a 500 before sign-in was even checked).
MAX_JSON_DEPTH = 32
NUL_MESSAGE = "The input contains a NUL character. Scan or type it again."
DEEP_MESSAGE = (f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels; no request Lotline "
                f"takes does. Send the body the API document describes.")


def _refusal() -> str | None:
    """Why the request's input is refused before any view reads it, or None: a NUL anywhere
    (no scanner sends one, and PostgreSQL cannot store it: a 500 there, silently stored text
    on SQLite), or a JSON body nested past :data:`MAX_JSON_DEPTH`."""
    if "\x00" in request.path:
        return NUL_MESSAGE
    if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return NUL_MESSAGE
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    if not request.is_json:
        return NUL_MESSAGE if any("\x00" in k or "\x00" in v
                                  for k, v in request.form.items(multi=True)) else None
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        return DEEP_MESSAGE
    if isinstance(body, str):
        return NUL_MESSAGE if "\x00" in body else None
    pending = [(body, 1)] if isinstance(body, dict | list) else []
    while pending:  # a walk without recursion, however deep; only containers are queued
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return DEEP_MESSAGE
        parts = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        for part in parts:
            if isinstance(part, str):
                if "\x00" in part:
                    return NUL_MESSAGE
            elif isinstance(part, dict | list):
                pending.append((part, depth + 1))
    return None


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def refuse_hostile_input():
        """A NUL in any input, or a JSON body nested too deep, is refused up front
        (:func:`_refusal`)."""
        message = _refusal()
        if message is None:
            return None
        if request.path.startswith("/api/"):
            return {"error": {"code": "validation_error", "message": message}}, 422
        return error_page(422, "Invalid input", message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        if secure_cookie_lost():  # the token's cookie never came back: reloading cannot help
            return error_page(400, PLAIN_HTTP_TITLE, PLAIN_HTTP_MESSAGE)
        return error_page(400, "Form expired",
                          "This form's security token is missing or stale. "
                          "Reload the page and scan again.")

    @app.errorhandler(403)
    def forbidden(exc):
        return api_error(exc) or error_page(
            403, "Forbidden", "Your role may not use this screen. Ask a supervisor or an admin.")

    @app.errorhandler(404)
    def not_found(exc):
        return api_error(exc) or error_page(404, "Not found",
                                            "There is nothing at this address.")

    @app.errorhandler(405)
    def method_not_allowed(exc):
        return api_error(exc) or error_page(405, "Method not allowed",
                                            "This address does not take that request.")

    @app.errorhandler(413)
    def too_large(exc):
        return api_error(exc) or error_page(413, "Too large", "That upload is larger than 2 MB.")

    @app.after_request
    def api_answers_json(response):
        return api_routing_answer(response)


API_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def is_api_path() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def api_error(exc: HTTPException):
    """Under /api/ every answer is JSON with the error envelope, a routing error too (an
    unknown path, a method the path does not take, with its ``Allow`` header, a body over
    the limit); None elsewhere."""
    if not is_api_path():
        return None
    status = exc.code or 500
    body = {"error": {"code": API_CODES.get(status, "http_error"),
                      "message": exc.description or exc.name}}
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return jsonify(body), status, headers


def api_routing_answer(response):
    """The two answers under /api/ that Flask and Werkzeug make without an error handler,
    made to fit the API: the automatic ``OPTIONS`` answer is a 204 with its ``Allow`` header
    and no body (not an empty HTML page); a redirect Werkzeug's routing makes (a path with
    doubled slashes, or one missing a rule's trailing slash) keeps its status and
    ``Location`` and says where in JSON, ``{"location": ...}`` (not an HTML page)."""
    if not is_api_path():
        return response
    rule = request.url_rule
    if request.method == "OPTIONS" and response.status_code == 200 and rule is not None \
            and rule.provide_automatic_options:
        response.status_code = 204
        response.set_data(b"")
        del response.headers["Content-Type"]
        # The methods of the operation matched, as the document states them: Werkzeug's own
        # list also takes in a rule whose <path:…> part would swallow this path's tail
        # (GET /purchase-orders/{number} for …/PO-1/putaway).
        methods = {method for other in current_app.url_map.iter_rules()
                   if other.rule == rule.rule for method in other.methods}
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response
    if isinstance(request.routing_exception, RequestRedirect) and \
            300 <= response.status_code < 400:
        response.set_data(json.dumps({"location": response.location}))
        response.content_type = "application/json"
    return response
