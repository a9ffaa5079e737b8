"""The ledger for supervisors: filter every inventory change, page through it, export CSV."""

from __future__ import annotations

from flask import render_template, request

from lotline import ledger as domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import LEDGER_TYPES, utcnow

from . import accepts, page_or_fragment, role_blueprint
from .csv_export import csv_response

bp = role_blueprint("ledger", __name__, "supervisor", url_prefix="/ledger")

FILTERS = ("sku", "lot", "location", "user", "type", "date_from", "date_to")


def _filters() -> dict[str, str]:
    return {name: request.args.get(name, "").strip() for name in FILTERS}


@bp.get("")
@accepts(*FILTERS, "page")
def index():
    asked = _filters()
    try:
        page = domain.search_ledger(db.session, **asked, page=request.args.get("page", 1))
        error, status = None, 200
    except DomainError as exc:
        page, error, status = None, exc, 422
    return page_or_fragment("ledger/index.html", "ledger/_results.html", status, page=page,
                            error=error, asked=asked, types=LEDGER_TYPES)


@bp.get("/export.csv")
@accepts(*FILTERS)
def export():
    asked = _filters()
    try:
        rows = domain.ledger_csv_rows(db.session, **asked)
    except DomainError as exc:
        return render_template("ledger/index.html", page=None, error=exc, asked=asked,
                               types=LEDGER_TYPES), 422

    return csv_response(rows, f"ledger-{utcnow():%Y%m%d-%H%M%S}")
