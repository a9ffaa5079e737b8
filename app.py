"""Lotline application factory. Gunicorn serves ``'app:create_app()'``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from jinja2 import StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix

from lotline.db import configure_engine
from lotline.extensions import compress, csrf, db, login_manager, migrate
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


# The camera is the scan screens' own (the app's origin), nothing else is asked for.
PERMISSIONS = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"


def _signed_in() -> bool:
    """The response is for a signed-in user (a session cookie or an API token), as already
    read for this request: the check itself reads nothing."""
    return any(getattr(user, "is_authenticated", False)
               for user in (g.get("_login_user"), g.get("api_user")))


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with one more refusal when reading: a key given twice in an object
    (``{"qty": 1, "qty": 999}`` would otherwise mean the last one)."""

    def loads(self, s, **kwargs):
        return super().loads(s, object_pairs_hook=_no_duplicate_keys, **kwargs)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} is given twice in one object.")
        found[key] = value
    return found


def secret_key(instance_path: str) -> str:
    """From the environment, else generated once into ``instance/secret_key``."""
    if os.environ.get("LOTLINE_SECRET_KEY"):
        return os.environ["LOTLINE_SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def trusted_proxies(value) -> int:
    """How many proxies in front of Lotline to believe (``LOTLINE_TRUSTED_PROXIES``): with
    n, Werkzeug's ProxyFix takes the client's address and scheme from the last n entries
    of X-Forwarded-For and -Proto (never X-Forwarded-Host: a proxy that passes on what the
    client sent there would let it choose the host in every absolute URL). 0, the default,
    believes none of them, so a client cannot claim another address or HTTPS."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > 10:
        raise ValueError(f"LOTLINE_TRUSTED_PROXIES is a number of proxies, 0 to 10, "
                         f"not {value!r}.")
    return int(text)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.json = JSONProvider(app)
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
        # Proxies in front of Lotline whose X-Forwarded-For/-Proto/-Host are believed (0:
        # none; see trusted_proxies).
        TRUSTED_PROXIES=os.environ.get("LOTLINE_TRUSTED_PROXIES", "0"),
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
    hops = trusted_proxies(app.config["TRUSTED_PROXIES"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

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
    def load_user(session_key: str):
        return signed_in_user(db.session, session_key)

    from blueprints import register_blueprints

    register_blueprints(app)

    from blueprints.nav import nav_entries
    from lotline import cli

    app.jinja_env.globals["nav_entries"] = nav_entries
    app.jinja_env.globals["htmx_js"] = "js/htmx-4.0.1.min.js"

    cli.register(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = PERMISSIONS
        if request.is_secure:  # HTTPS here, or the configured proxy said so (README, HTTPS)
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if _signed_in():  # what a signed-in user saw stays out of every cache
            response.headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
        return response

    from blueprints.errors import register_error_handlers

    register_error_handlers(app)
    return app
