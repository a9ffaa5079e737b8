"""A trial on a LAN over plain HTTP: the browser drops the Secure session cookie, so signing
in and every form fail; the sign-in page and the CSRF refusal say why instead."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app, request

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
