"""The supervisor's dashboard, made for a phone: packs in progress, orders waiting, and the
exceptions (polled every 15 s by htmx from /dashboard/panel)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for

from lotline import dashboard as domain
from lotline.extensions import db
from lotline.models import utcnow

from . import accepts, is_htmx, role_blueprint

bp = role_blueprint("dashboard", __name__, "supervisor", url_prefix="/dashboard")


def held_lot_url(number: str) -> str:
    """The lot screen for a held lot (its blueprint is not ours to url_for, so a plain URL)."""
    return f"{request.script_root}/lots?{urlencode({'lot': number})}"


def _exceptions_context() -> dict:
    return {"exceptions": domain.exceptions(db.session), "held_lot_url": held_lot_url,
            "updated": utcnow()}


@bp.get("")
@accepts()
def index():
    return render_template("dashboard/index.html", packs=domain.packs_in_progress(db.session),
                           waiting=domain.orders_waiting(db.session), **_exceptions_context())


@bp.get("/panel")
@accepts()
def panel():
    """The exceptions region alone, for htmx polling; a plain visit goes to the dashboard."""
    if not is_htmx():
        return redirect(url_for("dashboard.index"))
    return render_template("dashboard/_exceptions.html", **_exceptions_context())
