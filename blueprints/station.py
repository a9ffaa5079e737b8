"""The station: a named device (tablet), set once and remembered in a cookie."""

import re

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from lotline.commands import STATION_NAME_RE as NAME_RE

from . import accepts

bp = Blueprint("station", __name__)
COOKIE = "lotline_station"


def current_station() -> str:
    name = request.cookies.get(COOKIE, "")
    return name if re.match(NAME_RE, name) else ""


def remember_station(response, name: str):
    """This device is station ``name`` from now on (a cookie kept for years)."""
    response.set_cookie(COOKIE, name, max_age=5 * 365 * 24 * 3600,
                        secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Lax")
    return response


class StationForm(FlaskForm):
    name = StringField("Station name", validators=[
        DataRequired(), Length(max=32),
        Regexp(NAME_RE, message="1 to 32 letters, digits, spaces or . _ -")])


@bp.route("/station", methods=["GET", "POST"])
@accepts("name", "csrf_token")
@login_required
def station():
    form = StationForm()
    if form.validate_on_submit():
        response = remember_station(redirect(url_for("auth.home")), form.name.data.strip())
        flash(f"This device is station {form.name.data.strip()}.")
        return response
    if request.method == "GET":
        form.name.data = current_station()
    return render_template("station.html", form=form), 422 if request.method == "POST" else 200
