"""Locations: list and search, New location, Deactivate/Activate, CSV import."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from lotline import inventory
from lotline import locations as locations_domain
from lotline.extensions import db
from lotline.models import Location
from tests.conftest import make_item


def make_location(code="A-01", zone="A", type="storage"):
    location = locations_domain.create_location(db.session, code, zone, type)
    db.session.commit()
    return location


def location(code):
    db.session.expire_all()
    return db.session.scalar(select(Location).where(Location.code == code))


def count_locations():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Location))


def put_stock(code, sku="SKU-1", qty=5):
    inventory.put(db.session, location=code, sku=sku, lot=None, qty=qty,
                  actor=inventory.Actor(None))


def upload(text, name="locations.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return {"file": (io.BytesIO(data), name)}


# ---------------------------------------------------------------- the list


def test_list_shows_every_location_with_what_it_holds_and_labelled_fields(as_role):
    make_location("A-01", zone="North")
    make_location("B-02", zone="", type="pack")
    make_item("SKU-1")
    make_item("SKU-2")
    put_stock("A-01", "SKU-1", 5)
    put_stock("A-01", "SKU-2", 7)
    b = as_role("supervisor")
    response = b.get("/locations")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body
    assert "2 item(s), 12 unit(s)" in body
    assert "Zone North · Storage" in body and "No zone · Pack" in body
    b_row = body[body.index('data-code="B-02"'):]
    assert "Empty" in b_row[:b_row.index("</tr>")]
    for field_id, label in [("code", "Location code"), ("zone", "Zone"), ("type", "Type"),
                            ("file", "CSV file"), ("location-q", "Search locations")]:
        assert f'<label for="{field_id}">{label}</label>' in body
    assert 'class="table-wrap"' in body


def test_search_updates_the_table_as_a_fragment(as_role):
    make_location("A-01")
    make_location("A-02")
    make_location("B-01")
    b = as_role("supervisor")
    response = b.get("/locations?q=a-0", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="location-table"' in body
    assert 'data-code="A-01"' in body and 'data-code="A-02"' in body
    assert 'data-code="B-01"' not in body
    assert "2 location(s) matching “a-0”" in body
    assert "HX-Request" in response.headers["Vary"]
    assert "No locations match “ZZ”" in b.get("/locations?q=ZZ", htmx=True).get_data(as_text=True)


def test_packer_may_not_use_locations(as_role):
    make_location("A-01")
    b = as_role("packer")
    assert b.get("/locations").status_code == 403
    assert b.post("/locations/new", {"code": "X-1", "type": "storage"}).status_code == 403
    assert b.post("/locations/import", upload("code\nX-2\n")).status_code == 403
    assert b.post(f"/locations/{location('A-01').id}/active", {"active": "0"},
                  htmx=True).status_code == 403
    assert count_locations() == 1 and location("A-01").active is True


# ---------------------------------------------------------------- New location


def test_create_location_redirects_and_saves(as_role):
    b = as_role("supervisor")
    response = b.post("/locations/new", {"code": "r-01", "zone": "Dock", "type": "receiving"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/locations")
    saved = location("R-01")
    assert (saved.zone, saved.type, saved.active) == ("Dock", "receiving", True)
    assert "Created location R-01" in b.get("/locations").get_data(as_text=True)


def test_create_location_with_htmx_returns_the_form_and_the_table_out_of_band(as_role):
    make_location("A-01")
    b = as_role("supervisor")
    response = b.post("/locations/new", {"code": "A-02", "zone": "", "type": "pack", "q": "A-"},
                      htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="location-new"' in body and "Created location A-02" in body
    assert '<div id="location-table" hx-swap-oob="true">' in body
    assert 'data-code="A-02"' in body and "2 location(s) matching “A-”" in body
    assert re.search(r'<input id="code"[^>]* value="">', body)  # a fresh form for the next one
    assert location("A-02").type == "pack"


@pytest.mark.parametrize("data, status, message", [
    ({"code": "a-01", "type": "storage"}, 409, "Location A-01 already exists."),
    ({"code": "bad code!", "type": "storage"}, 422, "A location code has 1 to 32"),
    ({"code": "", "type": "storage"}, 422, "This field is required."),
    ({"code": "C-1", "type": "attic"}, 422, "Not a valid choice"),
    ({"code": "C-1", "zone": "Z" * 33, "type": "storage"}, 422,
     "Field cannot be longer than 32 characters."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_create_location_refused_says_why_and_changes_nothing(as_role, data, status, message,
                                                              htmx):
    make_location("A-01", zone="Old")
    b = as_role("supervisor")
    response = b.post("/locations/new", data, htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in body
    assert ("<html" in body) is not htmx
    assert "hx-swap-oob" not in body  # nothing changed, so no list to refresh
    assert count_locations() == 1 and location("A-01").zone == "Old"


# ---------------------------------------------------------------- Deactivate / Activate


def test_deactivate_and_activate_swap_the_row(as_role):
    loc_id = make_location("A-01").id
    make_location("A-02")
    b = as_role("supervisor")
    response = b.post(f"/locations/{loc_id}/active", {"active": "0"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="location-{loc_id}"') and "<html" not in body
    assert "Deactivated" in body and "Activate A-01" in body and "Deactivate A-01" not in body
    assert location("A-01").active is False and location("A-02").active is True
    response = b.post(f"/locations/{loc_id}/active", {"active": "1"}, htmx=True)
    assert response.status_code == 200 and "Deactivate A-01" in response.get_data(as_text=True)
    assert location("A-01").active is True


def test_deactivate_without_htmx_redirects_with_a_message(as_role):
    loc_id = make_location("A-01").id
    b = as_role("supervisor")
    response = b.post(f"/locations/{loc_id}/active", {"active": "0"})
    assert response.status_code == 302
    assert location("A-01").active is False
    assert "A-01 is now deactivated" in b.get("/locations").get_data(as_text=True)


@pytest.mark.parametrize("htmx", [True, False])
def test_deactivating_a_location_that_holds_stock_is_refused_in_place(as_role, htmx):
    loc_id = make_location("A-01").id
    make_item("SKU-1")
    put_stock("A-01", "SKU-1", 3)
    b = as_role("supervisor")
    response = b.post(f"/locations/{loc_id}/active", {"active": "0"}, htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "A-01 still holds stock. Move or count it out first." in body
    if htmx:
        assert body.lstrip().startswith(f'<tr id="location-{loc_id}"')
        assert "1 item(s), 3 unit(s)" in body and "Deactivate A-01" in body
    assert location("A-01").active is True


def test_deactivating_once_emptied_is_allowed(as_role):
    loc_id = make_location("A-01").id
    make_item("SKU-1")
    put_stock("A-01", "SKU-1", 3)
    inventory.pull(db.session, location="A-01", sku="SKU-1", lot=None, qty=3,
                   actor=inventory.Actor(None))
    response = as_role("supervisor").post(f"/locations/{loc_id}/active", {"active": "0"},
                                          htmx=True)
    assert response.status_code == 200 and "Empty" in response.get_data(as_text=True)
    assert location("A-01").active is False


@pytest.mark.parametrize("data", [{}, {"active": "maybe"}])
def test_set_active_with_a_bad_value_changes_nothing(as_role, data):
    loc_id = make_location("A-01").id
    response = as_role("supervisor").post(f"/locations/{loc_id}/active", data, htmx=True)
    assert response.status_code == 422
    assert "Choose Activate or Deactivate." in response.get_data(as_text=True)
    assert location("A-01").active is True


def test_set_active_on_an_unknown_location_is_404(as_role):
    response = as_role("supervisor").post("/locations/999/active", {"active": "0"}, htmx=True)
    assert response.status_code == 404 and "<html" not in response.get_data(as_text=True)


def test_set_active_needs_the_csrf_token(as_role):
    loc_id = make_location("A-01").id
    response = as_role("supervisor").post(f"/locations/{loc_id}/active", {"active": "0"},
                                          htmx=True, csrf=False)
    assert response.status_code == 400
    assert location("A-01").active is True


# ---------------------------------------------------------------- CSV import


def test_import_creates_every_location_and_says_how_many(as_role):
    make_location("A-01")
    b = as_role("supervisor")
    text = "\ufeffcode,zone,type\nb-01,B,storage\n\nB-02,B,pack\nR-01,,receiving\nS-01,,\n"
    response = b.post("/locations/import", upload(text), htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "Imported 4 location(s)." in body
    assert '<div id="location-table" hx-swap-oob="true">' in body and 'data-code="R-01"' in body
    assert count_locations() == 5
    assert (location("B-02").type, location("S-01").type, location("B-01").zone) == \
        ("pack", "storage", "B")


def test_import_without_htmx_redirects_with_the_count(as_role):
    b = as_role("supervisor")
    response = b.post("/locations/import", upload("code\nX-1\nX-2\n"))
    assert response.status_code == 302
    assert "Imported 2 location(s)." in b.get("/locations").get_data(as_text=True)
    assert count_locations() == 2


@pytest.mark.parametrize("text, message", [
    ("code,zone,type\nC-01,C,storage\nC 02,C,storage\n",
     "Line 3: the code “C 02” is not a location code Lotline takes: 1 to 32 letters, digits "
     "or . _ / -, starting with a letter or digit, not with CMD:. Change it in the code "
     "column."),
    ("code,zone,type\nC-01,C,storage\nC-02,C,attic\n",
     "Line 3: the type “attic” is not a location type. Change the type column to one of "
     "receiving, storage, pack (empty means storage)."),
    ("code,zone\nC-01," + "z" * 33 + "\n",
     "Line 2: the zone has more than 32 characters. Shorten it in the zone column."),
    ("code,zone,type\nC-01,,\nc-01,,\n",
     "Line 3: location C-01 is in an earlier row of the file too. Delete one of the two rows."),
    ("code,zone,type\nC-01,,\n\nA-01,,\n",  # a blank line counts: the file's own line
     "Line 4: location A-01 already exists in Lotline. Delete this row from the file."),
    ("zone,type\nA,storage\n",
     "Line 1: the header row has no code column. Make the first line of the file name the "
     "columns: code, zone, type (the required ones: code)."),
    ("code,zone,type\n", "The file has no locations under its header row."),
    (b"code\nC-01\n\xff\xfe\n", "The file is not UTF-8 text."),
    ("code\nC-01\n\"" + "x" * 140_000 + "\"\n", "Line 3: this is not readable CSV"),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_import_with_a_bad_line_creates_nothing_and_names_the_line(as_role, text, message, htmx):
    make_location("A-01")
    b = as_role("supervisor")
    response = b.post("/locations/import", upload(text), htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html.unescape(body)
    assert "Scan the" not in body and "label again" not in body  # a file is not scanned
    assert ("<html" in body) is not htmx
    assert "hx-swap-oob" not in body  # nothing changed, so no list to refresh
    assert count_locations() == 1 and location("C-01") is None


def test_import_without_a_file_is_refused(as_role):
    response = as_role("supervisor").post("/locations/import", {}, htmx=True)
    assert response.status_code == 422
    assert "Choose a CSV file to import." in response.get_data(as_text=True)
