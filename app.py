"""Lotline application factory. Gunicorn serves ``'app:create_app()'``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from jinja2 import StrictUndefined

from blueprints.signed import (
    PLAIN_HTTP_MESSAGE,
    PLAIN_HTTP_TITLE,
    MemoSessionInterface,
    csrf,
    secure_cookie_lost,
)
from lotline.db import configure_engine
from lotline.extensions import compress, db, login_manager, migrate
from lotline.users import PASSWORD_HASH, signed_in_user

# 'wasm-unsafe-eval' lets the page compile WebAssembly, for the camera's barcode decoder
# vendored under static/vendor/ (used where the browser has no BarcodeDetector). It allows
# nothing else: no eval() or new Function() of JavaScript, no inline script; and the .wasm
# itself can only come from 'self' (connect-src).
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; worker-src 'self'; "
    "manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(instance_path) / 'lotline.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key(instance_path: str) -> str:
    """From the environment, else generated once into ``instance/secret_key``."""
    if os.environ.get("LOTLINE_SECRET_KEY"):
        return os.environ["LOTLINE_SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


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


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=database_url(app.instance_path),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("LOTLINE_INSECURE_COOKIES") != "1",
        SESSION_COOKIE_NAME="lotline_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=os.environ.get("LOTLINE_INSECURE_COOKIES") != "1",
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session; a pack screen may sit open all shift
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        PASSWORD_HASH_METHOD=PASSWORD_HASH,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SCAN_PREFIX=os.environ.get("LOTLINE_SCAN_PREFIX", ""),
        SCAN_SUFFIX=os.environ.get("LOTLINE_SCAN_SUFFIX", ""),
        # Flask-Compress: pages, fragments, JSON and static JS/CSS/SVG/manifest, brotli where
        # the browser offers it (Chromium does on HTTPS and loopback), else gzip. A static
        # file's ETag gets the encoding appended, and If-None-Match still answers 304.
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br", "gzip"],
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path)
    app.jinja_env.undefined = StrictUndefined
    app.session_interface = MemoSessionInterface()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    compress.init_app(app)

    @app.after_request  # registered after Flask-Compress's hook, so it runs before it
    def static_file_whole(response):
        """send_file streams a static file; read a compressible one into memory (the largest
        is 45 KB) so it is compressed whole, with a Content-Length, and its file is closed
        with the response (a compressed stream would drop the file's close)."""
        if request.endpoint == "static" and response.status_code == 200 \
                and response.mimetype in compress.compress_mimetypes_set:
            response.direct_passthrough = False
            response.make_sequence()
        return response
    with app.app_context():
        configure_engine(db.engine)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."

    @login_manager.user_loader
    def load_user(user_id: str):
        return signed_in_user(db.engine, int(user_id))

    from blueprints import register_blueprints

    register_blueprints(app)

    from blueprints.nav import nav_entries
    from lotline import cli

    app.jinja_env.globals["nav_entries"] = nav_entries
    app.jinja_env.globals["htmx_js"] = "js/htmx-4.0.1.min.js"

    cli.register(app)

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

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.vary.add("HX-Request")
        return response

    def error_page(status: int, title: str, message: str):
        template = "partials/_error.html" if request.headers.get("HX-Request") else "error.html"
        return render_template(template, status=status, title=title, message=message,
                               code=title.lower().replace(" ", "_")), status

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

    return app
