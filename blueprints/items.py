"""Items: the grid (search, sort, paging, bulk Require Lot), New Item, Edit Item."""

from flask import abort, flash, redirect, render_template, request, url_for

from lotline import items as domain
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Item

from . import accepts, page_or_fragment, role_blueprint
from .forms import ItemForm

bp = role_blueprint("items", __name__, "supervisor", url_prefix="/items")

BULK_ACTIONS = {"require_lot": True, "clear_require_lot": False}


def _grid_args() -> dict:
    src = request.values
    return {"q": src.get("q", ""), "page": src.get("page", "1"),
            "sort": src.get("sort", "sku"), "direction": src.get("dir", "asc")}


def _render_grid(status=200, **extra):
    page = domain.search_items(db.session, **_grid_args())
    ctx = {"page": page, "message": None, "error": None, "confirm": None, "selected": set()}
    ctx.update(extra)
    return page_or_fragment("items/index.html", "items/_grid.html", status, **ctx)


@bp.get("")
@accepts("q", "page", "sort", "dir")
def index():
    return _render_grid()


@bp.post("/bulk")
@accepts("action", "item_id", "confirmed", "csrf_token", "q", "page", "sort", "dir")
def bulk():
    """Set or clear Require Lot on exactly the selected rows; warn first about lot-less stock."""
    action = request.form.get("action")
    if action not in BULK_ACTIONS:
        return _render_grid(422, error="Choose Require Lot or Clear Require Lot.")
    value = BULK_ACTIONS[action]
    try:
        ids = [int(v) for v in request.form.getlist("item_id")]
    except ValueError:
        return _render_grid(422, error="The selection is not valid. Reload the grid.")
    if value and not request.form.get("confirmed"):
        pending = domain.untracked_stock_locations(db.session, ids)
        if pending:
            return _render_grid(selected=set(ids), confirm={"action": action, "count": pending})
    try:
        with transaction(db.session):
            changed = domain.set_require_lot(db.session, ids, value)
    except DomainError as exc:
        return _render_grid(exc.status, error=exc.message, selected=set(ids))
    word = "now require" if value else "no longer require"
    return _render_grid(message=f"{changed} of {len(set(ids))} selected item(s) {word} a lot.",
                        selected=set(ids))


def _item_form_page(form, item, status=200, error=None, confirm=None):
    return render_template("items/edit.html", form=form, item=item, error=error,
                           confirm=confirm), status


def _save(form: ItemForm, item: Item | None):
    fields = {name: getattr(form, name).data for name in
              ("sku", "description", "gtin", "require_lot", "require_serial", "lot_at_pack")}
    fields["min_shelf_life_days"] = form.min_shelf_life_days.data or 0
    turning_on = fields["require_lot"] and not (item and item.require_lot)
    if item is not None and turning_on and not request.form.get("confirmed"):
        pending = domain.untracked_stock_locations(db.session, [item.id])
        if pending:
            return _item_form_page(form, item, confirm=pending)
    try:
        with transaction(db.session):
            if item is None:
                item = domain.create_item(db.session, **fields)
            else:
                domain.update_item(db.session, item, **fields)
    except DomainError as exc:
        field = getattr(form, exc.details.get("field") or "", None)
        if field is not None:
            field.errors = [*field.errors, exc.message]
        return _item_form_page(form, item, status=exc.status, error=exc.message)
    flash(f"Saved {item.sku}.")
    return redirect(url_for("items.edit", sku=item.sku))


@bp.route("/new", methods=["GET", "POST"])
@accepts("sku", "description", "gtin", "require_lot", "require_serial", "lot_at_pack",
         "min_shelf_life_days", "csrf_token")
def new():
    form = ItemForm()
    if form.validate_on_submit():
        return _save(form, None)
    return _item_form_page(form, None, status=422 if request.method == "POST" else 200)


@bp.route("/<sku>/edit", methods=["GET", "POST"])
@accepts("sku", "description", "gtin", "require_lot", "require_serial", "lot_at_pack",
         "min_shelf_life_days", "csrf_token", "confirmed")
def edit(sku):
    item = db.session.scalar(db.select(Item).where(Item.sku == sku))
    if item is None:
        abort(404)
    form = ItemForm(obj=item)
    if request.method == "GET":
        form.gtin.data = item.gtin or ""
    if form.validate_on_submit():
        return _save(form, item)
    return _item_form_page(form, item, status=422 if request.method == "POST" else 200)
