"""Views: one blueprint per area. Each parses the request, calls the domain, renders."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Flask, abort, render_template, request
from flask_login import current_user


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page_or_fragment(page: str, fragment: str, status: int = 200, /, **context):
    """The whole ``page``, or for htmx only its swappable region ``fragment`` (the page
    includes that template, so the markup exists once). Every response carries
    ``Vary: HX-Request`` (app.py), as one URL answers both."""
    return render_template(fragment if is_htmx() else page, **context), status


def require_role(*roles: str):
    """A ``before_request`` hook: signed in, and at least one of ``roles``, or 403."""

    def check():
        if not current_user.is_authenticated:
            from lotline.extensions import login_manager

            return login_manager.unauthorized()
        if not current_user.has_role(*roles):
            abort(403)
        return None

    return check


def role_blueprint(name: str, import_name: str, *roles: str, **kwargs) -> Blueprint:
    """A blueprint whose every route needs sign-in and one of ``roles``."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.before_request(require_role(*roles))
    return bp


def roles_required(*roles: str):
    """Per-route tightening inside a blueprint (e.g. a supervisor-only action)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


def accepts(*names: str):
    """Declare the request parameters a route reads (query string, form fields or JSON body
    keys; path variables are declared by the rule itself). ``tests/test_get_changes_nothing.py``
    sends every declared parameter of every route on GET, as each role, and checks that no
    table changed; a route without a declaration fails it. The view reads only these."""

    def decorator(view):
        view.accepts = frozenset(names)
        return view

    return decorator


def register_blueprints(app: Flask) -> None:
    from . import (
        admin,
        auth,
        dashboard,
        inventory,
        items,
        ledger,
        locations,
        lots,
        orders,
        packing,
        picking,
        purchasing,
        pwa,
        sheets,
        sign_in_locks,
        station,
    )
    from .api import api

    app.register_blueprint(auth.bp)
    app.register_blueprint(items.bp)
    app.register_blueprint(locations.bp)
    app.register_blueprint(purchasing.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(inventory.bp)
    app.register_blueprint(station.bp)
    app.register_blueprint(sheets.bp)
    app.register_blueprint(picking.bp)
    app.register_blueprint(packing.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(lots.bp)
    app.register_blueprint(pwa.bp)
    app.register_blueprint(sign_in_locks.bp)
    app.register_blueprint(api)
