"""The printable command sheet and station sheet (blueprints/sheets.py, lotline/labels.py)."""

from __future__ import annotations

import re
from html import escape

import pytest

from lotline.commands import SHEET
from lotline.labels import code128_svg


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def test_command_sheet_has_a_barcode_and_the_texts_of_every_command(as_role):
    page = as_role("packer").get("/commands")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    drawn = svgs(html)
    assert len(drawn) == len(SHEET)
    for command, svg in zip(SHEET, drawn, strict=True):
        assert svg == code128_svg(command.text)  # in the sheet's order, each its own text
        assert f'<p class="hr">{command.text}</p>' in html  # human-readable, under the bars
        assert escape(command.name, quote=False) in html
        assert escape(command.where, quote=False) in html
        assert svg.count("<rect") > 20  # bars, not an empty drawing
    assert "print.css" in html
    assert "Print" in html


def test_inline_svg_fits_the_page_and_its_content_security_policy():
    svg = code128_svg("CMD:CONFIRM")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<!--" not in svg
    assert "style=" not in svg  # style-src 'self' blocks inline styles: colours are attributes
    assert ' id="' not in svg  # several barcodes on one page
    assert "<text" not in svg  # the page sets the text under it as HTML
    assert 'width="0.5"' in svg  # 0.5 mm modules, in a viewBox in mm
    assert re.search(r'width="[\d.]+mm" height="[\d.]+mm" viewBox="0 0 [\d.]+ [\d.]+"', svg)
    assert 'aria-label="Barcode CMD:CONFIRM"' in svg
    assert "&lt;b&amp;" in code128_svg("a<b&c")  # the text is escaped by the serialiser


@pytest.mark.parametrize("role", ["packer", "supervisor", "admin"])
def test_station_sheet_for_a_named_station(as_role, role):
    page = as_role(role).get("/station/sheet?name=PACK-07")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert svgs(html) == [code128_svg("CMD:STATION:PACK-07")]
    assert '<p class="hr">CMD:STATION:PACK-07</p>' in html
    assert 'data-testid="station-name">PACK-07<' in html
    assert 'method="get"' in html  # and a form for another station's sheet


def test_station_sheet_defaults_to_this_devices_station(as_role, client):
    b = as_role("packer")
    client.set_cookie("lotline_station", "PACK 03")
    html = b.get("/station/sheet").get_data(as_text=True)
    assert svgs(html) == [code128_svg("CMD:STATION:PACK 03")]
    assert "CMD:STATION:PACK 03" in html


def test_station_sheet_without_a_station_asks_for_a_name(as_role):
    page = as_role("packer").get("/station/sheet")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert svgs(html) == []
    assert 'name="name"' in html and 'method="get"' in html


@pytest.mark.parametrize("name", ["", "   ", "PACK/07", "-PACK", "x" * 33, "CMD:CONFIRM",
                                  "<script>"])
def test_a_bad_station_name_is_refused_with_a_form(as_role, name):
    page = as_role("packer").get("/station/sheet", query_string={"name": name})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert svgs(html) == []
    assert 'data-error-code="validation_error"' in html
    assert "1 to 32 letters, digits, spaces or . _ -" in html
    assert re.search(r'<form method="get" action="/station/sheet"', html)
    assert 'id="sheet-name" name="name"' in html
    assert "<script>" not in html.split("<main", 1)[1]  # the typed name comes back escaped


def test_a_station_name_is_trimmed(as_role):
    page = as_role("packer").get("/station/sheet", query_string={"name": "  PACK-01 "})
    assert page.status_code == 200
    assert svgs(page.get_data(as_text=True)) == [code128_svg("CMD:STATION:PACK-01")]


@pytest.mark.parametrize("url", ["/commands", "/station/sheet", "/station/sheet?name=PACK-01"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_routes_declare_what_they_read(app):
    views = app.view_functions
    assert views["sheets.commands"].accepts == frozenset()
    assert views["sheets.station"].accepts == frozenset({"name"})


def test_the_station_page_and_home_link_to_both_sheets(as_role):
    b = as_role("packer")
    for url in ("/station", "/"):
        html = b.get(url).get_data(as_text=True)
        assert 'href="/commands"' in html and 'href="/station/sheet"' in html
