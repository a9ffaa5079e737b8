"""Lot lookup and recall for supervisors (on a phone in the aisle): where a lot is now,
where it went, its history; a printable and CSV recall report; one-tap Hold and Release."""

from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for
from flask_login import current_user

from lotline import lots as domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.inventory import Actor

from . import accepts, is_htmx, page_or_fragment, role_blueprint
from .csv_export import csv_response
from .scantext import clean_scan
from .station import current_station

bp = role_blueprint("lots", __name__, "supervisor", url_prefix="/lots")


def _actor() -> Actor:
    return Actor(current_user._get_current_object(), current_station())


def _lookup(status=200, message=None, error=None):
    number = clean_scan(request.values.get("lot"))
    sku = clean_scan(request.values.get("sku")) or None
    trace = None
    if number and error is None:
        try:
            trace = domain.trace(db.session, number, sku)
        except DomainError as exc:
            error, status = exc, exc.status
    return page_or_fragment("lots/lookup.html", "lots/_trace.html", status, number=number,
                            sku=sku or "", trace=trace, error=error, message=message)


@bp.get("")
@accepts("lot", "sku")
def lookup():
    return _lookup()


@bp.post("/hold")
@accepts("lot", "sku", "reason", "csrf_token")
def hold():
    try:
        domain.hold(db.session, number=request.form.get("lot"), sku=request.form.get("sku"),
                    reason=request.form.get("reason"), actor=_actor())
    except DomainError as exc:
        return _render_refusal(exc)
    return _after_change(f"Lot {request.form.get('lot')} is on hold: picks will skip it.")


@bp.post("/release")
@accepts("lot", "sku", "note", "csrf_token")
def release():
    try:
        domain.release(db.session, number=request.form.get("lot"), sku=request.form.get("sku"),
                       note=request.form.get("note", ""), actor=_actor())
    except DomainError as exc:
        return _render_refusal(exc)
    return _after_change(f"Lot {request.form.get('lot')} is released: it can be picked again.")


def _after_change(message: str):
    if is_htmx():
        return _lookup(message=message)
    return redirect(url_for("lots.lookup", lot=request.form.get("lot"),
                            sku=request.form.get("sku") or None))


def _render_refusal(exc: DomainError):
    number = clean_scan(request.form.get("lot"))
    sku = clean_scan(request.form.get("sku")) or None
    trace = None
    try:
        trace = domain.trace(db.session, number, sku)
    except DomainError:
        pass
    return page_or_fragment("lots/lookup.html", "lots/_trace.html", exc.status, number=number,
                            sku=sku or "", trace=trace, error=exc, message=None)


def _traces():
    numbers = [clean_scan(n) for n in request.args.getlist("lot") if clean_scan(n)]
    sku = clean_scan(request.args.get("sku")) or None
    traces, errors = [], []
    for number in dict.fromkeys(numbers):
        try:
            traces.append(domain.trace(db.session, number, sku))
        except DomainError as exc:
            errors.append(exc.message)
    if not numbers:
        errors.append("Name at least one lot: /lots/recall?lot=L1&lot=L2")
    return traces, errors


@bp.get("/recall")
@accepts("lot", "sku")
def recall():
    traces, errors = _traces()
    return render_template("lots/recall.html", traces=traces, errors=errors), \
        422 if errors and not traces else 200


@bp.get("/recall.csv")
@accepts("lot", "sku")
def recall_csv():
    traces, errors = _traces()
    if not traces:
        return Response("\n".join(errors) + "\n", status=422, mimetype="text/plain")
    rows = [["lot", "section", "customer", "customer_ref", "order", "order_status",
             "shipped_at", "sku", "location", "qty", "source", "mismatch", "note"]]
    for t in traces:
        rows += [[t.number, "on hand (hold it)", "", "", "", "", "", r.sku, r.location, r.qty,
                  "tracking", "", ""] for r in t.on_hand]
        rows += [[t.number, "shipped to customer", s.customer, s.customer_ref, s.order,
                  s.status, s.shipped_at.isoformat(timespec="seconds") if s.shipped_at else "",
                  s.sku, "", s.qty, s.source, "yes" if s.mismatch else "", s.note]
                 for s in t.shipments]
    return csv_response(rows, "recall-" + "-".join(t.number for t in traces))
