"""Locations: the list (search, items held), New location, Deactivate/Activate, CSV import."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from lotline import locations as domain
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Location

from . import accepts, is_htmx, page_or_fragment, role_blueprint

bp = role_blueprint("locations", __name__, "supervisor", url_prefix="/locations")

TYPE_CHOICES = [SelectChoice("storage", "Storage"), SelectChoice("receiving", "Receiving"),
                SelectChoice("pack", "Pack")]


class LocationForm(FlaskForm):
    code = StringField("Location code", validators=[DataRequired(), Length(max=32)])
    zone = StringField("Zone", validators=[Optional(), Length(max=32)])
    type = SelectField("Type", choices=TYPE_CHOICES, default="storage")


class LocationImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to import.")])


def _table_context() -> dict:
    """One page of the list, as the search box and the pager ask (``q``, ``page``)."""
    found = domain.search_locations(db.session, request.values.get("q", ""),
                                    request.values.get("page", "1"))
    held = domain.stock_held(db.session, [loc.id for loc in found.rows])
    return {"q": found.q, "page": found, "locations": found.rows, "held": held}


def _page(status=200, **extra):
    """The whole page, or with HX-Request only the table (the search box's target)."""
    ctx = {**_table_context(), "form": LocationForm(formdata=None), "created": None,
           "error": None, "import_form": LocationImportForm(formdata=None), "imported": None,
           "import_error": None, "page_error": None, "oob": False}
    ctx.update(extra)
    return page_or_fragment("locations/index.html", "locations/_table.html", status, **ctx)


def _region(template: str, status: int, **ctx):
    """A form's region; after a change, with the table swapped out of band to show it."""
    if status < 400:
        ctx.update(_table_context())
    return render_template(template, oob=status < 400, **ctx), status


@bp.get("")
@accepts("q", "page")
def index():
    return _page()


@bp.post("/new")
@accepts("code", "zone", "type", "csrf_token", "q")
def create():
    form = LocationForm()
    if not form.validate_on_submit():
        return _new_result(form, None, None, 422)
    try:
        location = domain.add_location(db.session, form.code.data, form.zone.data,
                                       form.type.data)
    except DomainError as exc:
        field = getattr(form, exc.details.get("field") or "", None)
        if field is None:
            return _new_result(form, None, exc.message, exc.status)
        field.errors = [*field.errors, exc.message]
        return _new_result(form, None, None, exc.status)
    if not is_htmx():
        flash(f"Created location {location.code}.")
        return redirect(url_for("locations.index"))
    return _new_result(LocationForm(formdata=None), location, None, 200)


def _new_result(form, created, error, status):
    if status >= 400 and error is None:
        error = "The location was not created. Check the field marked below."
    if is_htmx():
        return _region("locations/_new.html", status, form=form, created=created, error=error)
    return _page(status, form=form, error=error)


@bp.post("/import")
@accepts("file", "csrf_token", "q")
def import_csv():
    """Create locations from an uploaded CSV: all of them, or none and the line at fault."""
    form = LocationImportForm()
    if not form.validate_on_submit():
        return _import_result(form, None, "; ".join(form.file.errors) or "Choose a CSV file.",
                              422)
    try:
        text = form.file.data.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _import_result(form, None, "The file is not UTF-8 text. Save it as "
                              "“CSV UTF-8” and import it again.", 422)
    try:
        count = domain.import_locations(db.session, text)
    except DomainError as exc:
        return _import_result(form, None, f"Nothing was imported. {exc.message}", exc.status)
    if not is_htmx():
        flash(f"Imported {count} location(s).")
        return redirect(url_for("locations.index"))
    return _import_result(LocationImportForm(formdata=None), count, None, 200)


def _import_result(form, imported, error, status):
    if is_htmx():
        return _region("locations/_import.html", status, import_form=form, imported=imported,
                       import_error=error)
    return _page(status, import_form=form, import_error=error)


@bp.post("/<int:location_id>/active")
@accepts("active", "csrf_token", "q")
def set_active(location_id):
    """Deactivate or activate one location; the answer is its row (or the refusal in it)."""
    location = db.session.get(Location, location_id)
    if location is None:
        abort(404)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        return _row_result(location, "Choose Activate or Deactivate.", 422)
    try:
        with transaction(db.session):
            domain.set_active(db.session, location, wanted == "1")
    except DomainError as exc:
        return _row_result(location, exc.message, exc.status)
    if not is_htmx():
        flash(f"{location.code} is now {'active' if location.active else 'deactivated'}.")
        return redirect(url_for("locations.index"))
    return _row_result(location, None, 200)


def _row_result(location, error, status):
    if is_htmx():
        held = domain.stock_held(db.session, [location.id])
        return render_template("locations/_row.html", location=location, held=held,
                               row_error=error), status
    return _page(status, page_error=error)
