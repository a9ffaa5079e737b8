"""Orders for supervisors: list by status, create on a screen or by CSV, see what was picked
and packed (with lots, serials and mismatches), cancel, ship."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lotline import orders as domain
from lotline import returns
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.inventory import Actor
from lotline.models import ORDER_STATUSES, Order

from . import accepts, page_or_fragment, role_blueprint
from .lines import LinesError, box_line, parse_lines
from .scantext import clean_scan
from .station import current_station

bp = role_blueprint("orders", __name__, "supervisor", url_prefix="/orders")


class OrderForm(FlaskForm):
    number = StringField("Order number", validators=[DataRequired(), Length(max=32)])
    customer = StringField("Customer", validators=[DataRequired(), Length(max=100)])
    customer_ref = StringField("Customer reference", validators=[Optional(), Length(max=64)])
    ship_to = TextAreaField("Ship to", validators=[Optional(), Length(max=300)])
    lines = TextAreaField("Lines (one “SKU quantity” per line)",
                          validators=[DataRequired(), Length(max=20000)])


class UploadForm(FlaskForm):
    file = FileField("Orders CSV", validators=[FileRequired()])


def _list(status=200, **extra):
    found = domain.page_orders(db.session, request.args.get("status"),
                               request.args.get("page", "1"))
    ctx = {"page": found, "orders": found.orders, "status": found.status,
           "statuses": ORDER_STATUSES, "form": OrderForm(), "upload": UploadForm(),
           "error": None}
    ctx.update(extra)
    return page_or_fragment("orders/index.html", "orders/_table.html", status, **ctx)


@bp.get("")
@accepts("status", "page")
def index():
    return _list()


@bp.post("/new")
@accepts("number", "customer", "customer_ref", "ship_to", "lines", "csrf_token",
         "status")
def new():
    form = OrderForm()
    if not form.validate_on_submit():
        return _list(422, form=form, error="Fill in the order number, customer and lines.")
    try:
        entries, numbers = parse_lines(form.lines.data)
    except LinesError as exc:
        return _list(422, form=form, error=str(exc))
    try:
        with transaction(db.session):
            order = domain.create_order(db.session, form.number.data, form.customer.data,
                                        entries, form.customer_ref.data or "",
                                        form.ship_to.data or "")
    except DomainError as exc:
        return _list(exc.status, form=form, error=box_line(exc.message, numbers))
    flash(f"Created order {order.number}.")
    return redirect(url_for("orders.detail", number=order.number))


@bp.post("/upload")
@accepts("file", "csrf_token", "status")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _list(422, upload=form, error="Choose a CSV file to upload.")
    try:
        text = form.file.data.read().decode("utf-8-sig")
        with transaction(db.session):
            created = domain.import_csv(db.session, text)
    except UnicodeDecodeError:
        return _list(422, error="The file is not UTF-8 text. Save it as CSV (UTF-8).")
    except DomainError as exc:
        return _list(exc.status, error=f"Nothing was imported. {exc.message}")
    flash(f"Imported {len(created)} order(s): {', '.join(o.number for o in created)}.")
    return redirect(url_for("orders.index"))


def _order(number) -> Order:
    order = db.session.scalar(db.select(Order).where(Order.number == number.upper()))
    if order is None:
        abort(404)
    return order


def _detail(order, error=None, status=200):
    returnable = {line.id: returns.returnable(db.session, line) for line in order.lines}
    return render_template("orders/detail.html", order=order, error=error,
                           returnable=returnable, key=uuid.uuid4().hex), status


@bp.get("/<number>")
@accepts()
def detail(number):
    return _detail(_order(number))


@bp.post("/<number>/return")
@accepts("csrf_token", "sku", "lot", "qty", "location", "idem")
def return_picked(number):
    """Picked units of a lot that may not leave, back to a location the supervisor scans."""
    order = _order(number)
    actor = Actor(current_user._get_current_object(), current_station())
    form = request.form
    try:
        result = returns.return_picked(
            db.session, order_number=order.number, sku=form.get("sku"), lot=form.get("lot"),
            location=clean_scan(form.get("location")), qty=form.get("qty"), actor=actor,
            idempotency_key=form.get("idem") or None)
    except DomainError as exc:
        return _detail(_order(number), exc.message, 422)
    flash(" ".join(result.messages))
    return redirect(url_for("orders.detail", number=order.number))


@bp.post("/<number>/<action>")
@accepts("csrf_token")
def act(number, action):
    order = _order(number)
    actions = {"cancel": domain.cancel_order, "ship": domain.ship_order}
    if action not in actions:
        abort(404)
    try:
        with transaction(db.session):
            actions[action](db.session, order)
    except DomainError as exc:
        return _detail(order, exc.message, 422)
    flash(f"Order {order.number} is {order.status}.")
    return redirect(url_for("orders.detail", number=order.number))
