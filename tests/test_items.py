"""Items: New Item, Edit Item, the grid (search, sort, paging) and its bulk Require Lot action."""

import pytest
from sqlalchemy import func, select

from lotline.extensions import db
from lotline.models import Item
from tests.conftest import make_item


def item(sku):
    return db.session.scalar(select(Item).where(Item.sku == sku))


def form(**overrides):
    data = {"sku": "NEW-1", "description": "New thing", "gtin": "", "lot_at_pack": "follow"}
    data.update(overrides)
    return data


def test_new_item_with_require_lot(as_role):
    b = as_role("supervisor")
    response = b.post("/items/new", form(require_lot="y", gtin="4006381333931"))
    assert response.status_code == 302
    saved = item("NEW-1")
    assert saved.require_lot is True and saved.gtin == "04006381333931"


@pytest.mark.parametrize("overrides, message", [
    ({"sku": "DUP"}, "SKU DUP already exists"),
    ({"gtin": "4006381333932"}, "wrong check digit"),
    ({"gtin": "12345"}, "8, 12, 13 or 14 digits"),
    ({"sku": "bad sku!"}, "A SKU has 1 to 64"),
    ({"lot_at_pack": "sometimes"}, "Not a valid choice"),
])
def test_new_item_bad_input_is_refused_and_changes_nothing(as_role, overrides, message):
    make_item("DUP")
    b = as_role("supervisor")
    before = db.session.scalar(select(func.count()).select_from(Item))
    response = b.post("/items/new", form(**overrides))
    assert response.status_code in (409, 422)
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Item)) == before


def test_edit_item_sets_and_clears_require_lot_and_lot_at_pack(as_role):
    make_item("EDIT-1", description="Before")
    b = as_role("supervisor")
    page = b.get("/items/EDIT-1/edit").get_data(as_text=True)
    assert 'value="EDIT-1"' in page and "Require Lot Number" in page
    response = b.post("/items/EDIT-1/edit", form(sku="EDIT-1", require_lot="y",
                                                 lot_at_pack="always", require_serial="y"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = item("EDIT-1")
    assert (saved.require_lot, saved.lot_at_pack, saved.require_serial) == (True, "always", True)
    b.post("/items/EDIT-1/edit", form(sku="EDIT-1", lot_at_pack="follow"))
    db.session.expire_all()
    assert item("EDIT-1").require_lot is False


def test_edit_unknown_item_is_404(as_role):
    assert as_role("supervisor").get("/items/NOPE/edit").status_code == 404


def test_grid_search_by_sku_description_and_gtin(as_role):
    make_item("APPLE-1", description="Red apple", gtin="4006381333931")
    make_item("PEAR-1", description="Green pear")
    b = as_role("supervisor")
    assert "APPLE-1" in b.get("/items?q=apple").get_data(as_text=True)
    body = b.get("/items?q=green").get_data(as_text=True)
    assert "PEAR-1" in body and "APPLE-1" not in body
    assert "APPLE-1" in b.get("/items?q=4006381").get_data(as_text=True)
    assert "PEAR-1" not in b.get("/items?q=%25").get_data(as_text=True)  # % is literal


def test_grid_fragment_has_no_page_shell(as_role):
    make_item("A-1")
    response = as_role("supervisor").get("/items?q=A", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="item-grid"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_grid_sorts_and_pages(as_role):
    for n in range(30):
        make_item(f"S-{n:02d}")
    b = as_role("supervisor")
    first = b.get("/items?sort=sku&dir=desc").get_data(as_text=True)
    assert first.index("S-29") < first.index("S-28")
    assert "page 1 of 2" in first
    second = b.get("/items?sort=sku&dir=asc&page=2").get_data(as_text=True)
    assert "S-29" in second and "S-00" not in second


def test_bulk_require_lot_changes_exactly_the_selected_items(as_role):
    ids = [make_item(f"B-{n}").id for n in range(5)]
    b = as_role("supervisor")
    response = b.post("/items/bulk", {"action": "require_lot", "item_id": [ids[1], ids[3]]},
                      htmx=True)
    assert response.status_code == 200
    assert "2 of 2 selected item(s) now require a lot" in response.get_data(as_text=True)
    db.session.expire_all()
    flags = {i.sku: i.require_lot for i in db.session.scalars(select(Item))}
    assert flags == {"B-0": False, "B-1": True, "B-2": False, "B-3": True, "B-4": False}
    b.post("/items/bulk", {"action": "clear_require_lot", "item_id": [ids[3]]}, htmx=True)
    db.session.expire_all()
    assert [i.sku for i in db.session.scalars(select(Item).where(Item.require_lot))] == ["B-1"]


@pytest.mark.parametrize("data, message", [
    ({"action": "require_lot"}, "Select at least one item"),
    ({"action": "explode", "item_id": "1"}, "Choose Require Lot"),
    ({"action": "require_lot", "item_id": "abc"}, "not valid"),
    ({"action": "require_lot", "item_id": "999"}, "no longer exist"),
])
def test_bulk_bad_input_changes_nothing(as_role, data, message):
    make_item("B-0")
    response = as_role("supervisor").post("/items/bulk", data, htmx=True)
    assert response.status_code in (404, 422)
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert item("B-0").require_lot is False
