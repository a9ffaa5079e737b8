"""Error pages and refusals made before any view runs: one module, registered by the app
factory. A page for a plain visit, the error partial for htmx (which swaps 4xx answers)."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from . import is_htmx
from .plain_http import PLAIN_HTTP_MESSAGE, PLAIN_HTTP_TITLE, secure_cookie_lost


def error_page(status: int, title: str, message: str):
    template = "partials/_error.html" if is_htmx() else "error.html"
    return render_template(template, status=status, title=title, message=message,
                           code=title.lower().replace(" ", "_")), status


def _has_nul() -> bool:
    def bad(value) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(bad(k) or bad(v) for k, v in value.items())
        if isinstance(value, list):
            return any(bad(v) for v in value)
        return False

    if "\x00" in request.path:
        return True
    if any(bad(k) or bad(v) for k, v in request.args.items(multi=True)):
        return True
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            return bad(request.get_json(silent=True))
        return any(bad(k) or bad(v) for k, v in request.form.items(multi=True))
    return False


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        """A NUL in any input is refused up front: no scanner sends one, and PostgreSQL cannot
        store it (it would be a 500 there and silently stored text on SQLite)."""
        if not _has_nul():
            return None
        message = "The input contains a NUL character. Scan or type it again."
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
        return error_page(403, "Forbidden",
                          "Your role may not use this screen. Ask a supervisor or an admin.")

    @app.errorhandler(404)
    def not_found(exc):
        return error_page(404, "Not found", "There is nothing at this address.")

    @app.errorhandler(405)
    def method_not_allowed(exc):
        return error_page(405, "Method not allowed", "This address does not take that request.")

    @app.errorhandler(413)
    def too_large(exc):
        return error_page(413, "Too large", "That upload is larger than 2 MB.")
