"""Printable sheets of scanner commands (SCAN-UX.md): the command sheet, and a station's
sheet whose barcode (``CMD:STATION:<name>``) sets the station of the device that scans it.
Real Code 128 barcodes, drawn on the server as inline SVG. A GET only shows."""

from __future__ import annotations

from flask import render_template, request
from markupsafe import Markup

from lotline.commands import SHEET, STATION, station_name
from lotline.errors import DomainError
from lotline.labels import code128_svg

from . import accepts, role_blueprint
from .station import current_station

bp = role_blueprint("sheets", __name__, "packer")


def barcode(text: str) -> Markup:
    """The inline SVG of ``text`` (escaped by the SVG's serialiser, so safe to insert)."""
    return Markup(code128_svg(text))


@bp.get("/commands")
@accepts()
def commands():
    sheet = [{"command": c, "svg": barcode(c.text)} for c in SHEET]
    return render_template("sheets/commands.html", sheet=sheet)


@bp.get("/station/sheet")
@accepts("name")
def station():
    typed = request.args.get("name")
    raw = current_station() if typed is None else typed
    if typed is None and not raw:
        # No name asked for and this device has no station yet: ask for one (nothing refused).
        return render_template("sheets/station.html", name=None, typed="", refused=False)
    try:
        name = station_name(STATION + raw)
    except DomainError:
        return render_template("sheets/station.html", name=None, typed=raw.strip(),
                               refused=True), 422
    text = STATION + name
    return render_template("sheets/station.html", name=name, text=text, svg=barcode(text),
                           typed=name, refused=False)
