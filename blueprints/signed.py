"""The session cookie and the CSRF token, each verified once per worker and value.

A station sends the same signed session cookie and the same signed CSRF token with every
scan of a shift. Checking a signature is deterministic: the same bytes under the same keys
always give the same answer, so a worker remembers the values it has verified (and the token
it signed for a session) instead of rebuilding a serializer, deriving its key and checking
the HMAC again on every request: about 0.25 ms of a 1.2 ms scan.

What stays exactly as Flask and Flask-WTF do it:

* a value seen for the first time is checked by their own code, and only a value that
  passed is remembered (a forged or tampered one is never in the memo);
* the keys are part of the memo's key, so a rotated ``SECRET_KEY`` verifies everything anew;
* the session's age is still checked on every request against the time signed into the
  cookie (``PERMANENT_SESSION_LIFETIME``); the CSRF token is memoised only when it has no
  time limit (``WTF_CSRF_TIME_LIMIT = None``, Lotline's setting), else Flask-WTF checks it;
* the CSRF token must still match the raw token in *this* request's session, and over
  HTTPS the referrer must still be this host (Flask-WTF's strict check, kept below);
* the decoded session is handed out as a new dict each time; only sessions whose values
  are all plain scalars are memoised, so no request can change what another one sees.
"""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect, same_origin, validate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import ValidationError

MEMO_SIZE = 4096  # distinct sessions a worker remembers; the oldest is forgotten first
_SCALARS = (str, int, float, bool, type(None))


def _remember(memo: dict, key, value) -> None:
    if len(memo) >= MEMO_SIZE:
        memo.pop(next(iter(memo), None), None)
    memo[key] = value


def _keys(app: Flask) -> tuple:
    return (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)


class MemoSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with each verified cookie remembered."""

    def __init__(self) -> None:
        self._verified: dict[tuple, tuple[dict, float]] = {}
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = _keys(app)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        max_age = app.permanent_session_lifetime.total_seconds()
        memo_key = (_keys(app), value)
        known = self._verified.get(memo_key)
        if known is None:
            try:
                data, signed_at = self.get_signing_serializer(app).loads(
                    value, max_age=int(max_age), return_timestamp=True)
            except BadSignature:
                return self.session_class()
            known = (data, signed_at.timestamp())
            if isinstance(data, dict) and all(isinstance(v, _SCALARS) for v in data.values()):
                _remember(self._verified, memo_key, known)
        data, signed_at = known
        if time.time() - signed_at > max_age:  # expired since it was first verified
            self._verified.pop(memo_key, None)
            return self.session_class()
        return self.session_class(data)  # a dict of its own: the memo stays as verified


class MemoCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection, with each verified (token, session token) pair
    remembered, and the token for a session signed once."""

    def __init__(self, app=None) -> None:
        self._valid: dict[tuple, bool] = {}
        self._signed: dict[tuple, str] = {}
        super().__init__(app)

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        app.jinja_env.globals["csrf_token"] = self.token
        app.context_processor(lambda: {"csrf_token": self.token})

    def token(self) -> str:
        """The signed CSRF token of this session (a new raw token if it has none)."""
        config = current_app.config
        field = config["WTF_CSRF_FIELD_NAME"]
        raw = session.get(field)
        if not isinstance(raw, str) or config["WTF_CSRF_TIME_LIMIT"] is not None:
            from flask_wtf.csrf import generate_csrf

            if not isinstance(raw, str):
                g.pop(field, None)
            return generate_csrf()  # a new raw token if none; signed now (a time limit runs)
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        memo_key = (secret, raw)
        signed = self._signed.get(memo_key)
        if signed is None:
            signed = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)
            _remember(self._signed, memo_key, signed)
        return signed

    def protect(self, apply_exemptions=False):
        """As Flask-WTF's ``protect``, through the memo of verified pairs."""
        config = current_app.config
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        if request.method not in config["WTF_CSRF_METHODS"]:
            return
        try:
            self._validate(self._get_csrf_token())
        except ValidationError as error:
            self._error_response(error.args[0])
        if request.is_secure and config["WTF_CSRF_SSL_STRICT"]:
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            if not same_origin(request.referrer, f"https://{request.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True

    def _validate(self, data) -> None:
        config = current_app.config
        raw = session.get(config["WTF_CSRF_FIELD_NAME"])
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        memo_key = (secret, data, raw)
        unlimited = config["WTF_CSRF_TIME_LIMIT"] is None  # else Flask-WTF checks the age
        if unlimited and data and isinstance(raw, str) and memo_key in self._valid:
            return
        validate_csrf(data)  # raises ValidationError with Flask-WTF's message
        if unlimited:
            _remember(self._valid, memo_key, True)


csrf = MemoCSRFProtect()

# What a browser on a plain-HTTP page is told when it cannot keep the session cookie.
PLAIN_HTTP_TITLE = "HTTPS needed"
PLAIN_HTTP_MESSAGE = (
    "This page came over plain HTTP, and Lotline's session cookie is Secure (HTTPS only), so "
    "this browser does not keep it: signing in, and every form, fails here, and reloading "
    "does not help. Serve Lotline over HTTPS (for example behind a TLS proxy), or, for a "
    "trial on a trusted LAN, restart it with LOTLINE_INSECURE_COOKIES=1.")


def _secure_context_host(host: str) -> bool:
    """Hosts a browser treats as a secure context even over plain HTTP, where it keeps Secure
    cookies: localhost, *.localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_cookie_lost() -> bool:
    """This request came over plain HTTP from a host that is no secure context (a tablet at
    http://192.168.1.20:8000) while the session cookie is Secure: the browser neither stores
    nor sends that cookie, so no session and no CSRF token survive from one request to the
    next. Behind a TLS proxy the request counts as secure (gunicorn trusts X-Forwarded-Proto
    from the addresses in its forwarded_allow_ips)."""
    if request.is_secure or not current_app.config["SESSION_COOKIE_SECURE"]:
        return False
    host = urlsplit("//" + request.host).hostname or ""
    return not _secure_context_host(host)
