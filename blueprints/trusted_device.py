"""The device cookie (OWASP's device cookies): a device that signed in as a user keeps
signing in while that user's name is locked against everyone else (lotline.throttle).

The cookie is signed with the app's secret (itsdangerous, salt "lotline-device"), never
encrypted: it holds, for each user who signed in on this device (the most recent
:data:`KEPT`), the user's id, a fingerprint of their password hash (a password change drops
the trust) and a nonce naming the device's own count of failures. The view reads and checks
it; the domain gets plain :class:`~lotline.throttle.TrustedDevice` values."""

from __future__ import annotations

import time

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from lotline.throttle import TrustedDevice

COOKIE = "lotline_device"
MAX_AGE = 90 * 24 * 3600  # a device not signed in on for 90 days is a stranger again
KEPT = 8  # users remembered per device: a shared pack station's shifts


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="lotline-device")


def _entries() -> list[list]:
    """The cookie's entries, [user id, fingerprint, nonce, issued], each younger than
    :data:`MAX_AGE`; none when it is missing, forged, or too old."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 2048:
        return []
    try:
        entries = _serializer().loads(raw, max_age=MAX_AGE)
    except BadData:
        return []
    if not isinstance(entries, list):
        return []
    oldest = time.time() - MAX_AGE
    return [entry for entry in entries[:KEPT]
            if isinstance(entry, list) and len(entry) == 4
            and type(entry[0]) is int and isinstance(entry[1], str)
            and isinstance(entry[2], str) and type(entry[3]) is int and entry[3] >= oldest]


def trusted_devices() -> tuple[TrustedDevice, ...]:
    """What this request's device cookie vouches for (its signature checked)."""
    return tuple(TrustedDevice(user_id, fingerprint, nonce)
                 for user_id, fingerprint, nonce, _issued in _entries())


def remember_device(response, device: TrustedDevice):
    """Set the device cookie after a sign-in: this device is trusted for ``device``'s user
    (first, replacing their earlier entry), and still for the others it held."""
    others = [entry for entry in _entries() if entry[0] != device.user_id]
    entries = [[device.user_id, device.fingerprint, device.nonce, int(time.time())],
               *others][:KEPT]
    response.set_cookie(COOKIE, _serializer().dumps(entries), max_age=MAX_AGE,
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                        samesite="Lax")
    return response
