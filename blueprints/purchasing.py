"""Purchase orders: the list (status; ordered, received, remaining per line) and New PO."""

from flask import flash, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lotline import inventory as domain
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db

from . import accepts, is_htmx, page_or_fragment, role_blueprint
from .lines import LinesError, box_line, parse_lines

bp = role_blueprint("purchasing", __name__, "supervisor", url_prefix="/purchase-orders")

FIELD_ERRORS = "The purchase order was not created. Check the field marked below."


class PurchaseOrderForm(FlaskForm):
    number = StringField("PO number", validators=[DataRequired(), Length(max=32)])
    vendor = StringField("Vendor", validators=[Optional(), Length(max=100)])
    lines = TextAreaField("Lines", validators=[
        DataRequired("Add at least one line: the SKU, a space, the quantity."),
        Length(max=20_000)],
                          description="One line per item: the SKU, a space, the quantity.")


def _render(fragment: str, status=200, **extra):
    """The purchasing page, or for htmx its region ``fragment`` (the list, or the new-order
    form: alone, or with the list out of band after a purchase order is created)."""
    ctx = {"form": PurchaseOrderForm(formdata=None), "created": None, "error": None,
           "oob": False}
    ctx.update(extra)
    if not is_htmx() or fragment != "purchasing/_new.html" or ctx["oob"]:
        found = domain.page_purchase_orders(db.session, request.args.get("page", "1"))
        ctx.update(page=found, orders=found.orders)  # the form alone needs no list
    return page_or_fragment("purchasing/index.html", fragment, status, **ctx)


@bp.get("")
@accepts("page")
def index():
    return _render("purchasing/_list.html")


@bp.post("/new")
@accepts("number", "vendor", "lines", "csrf_token")
def create():
    form = PurchaseOrderForm()
    if not form.validate_on_submit():
        return _refused(form, FIELD_ERRORS, 422)
    try:
        entries, numbers = parse_lines(form.lines.data)
    except LinesError as exc:
        form.lines.errors = [*form.lines.errors, str(exc)]
        return _refused(form, FIELD_ERRORS, 422)
    try:
        with transaction(db.session):
            po = domain.create_purchase_order(db.session, form.number.data, form.vendor.data,
                                              entries)
    except DomainError as exc:
        message = box_line(exc.message, numbers)
        name = exc.details.get("field") or ("lines" if exc.code == "unknown_item" else "")
        field = getattr(form, name, None)
        if field is None:
            return _refused(form, message, exc.status)
        field.errors = [*field.errors, message]
        return _refused(form, FIELD_ERRORS, exc.status)
    if not is_htmx():
        flash(f"Created purchase order {po.number}.")
        return redirect(url_for("purchasing.index"))
    return _render("purchasing/_new.html", created=po, oob=True)


def _refused(form, message, status):
    return _render("purchasing/_new.html", status, form=form, error=message)
