"""Paging and search of the supervisor lists (Locations, Items, Orders): the page sizes, the
last page, a search that matches nothing, and hostile page numbers answered with a page that
says which it is, never a 500."""

import pytest

from lotline import items as items_domain
from lotline import locations as locations_domain
from lotline import orders as orders_domain
from lotline.extensions import db
from lotline.paging import page_count, page_number
from tests.conftest import make_item, make_order

HOSTILE_PAGES = ["-1", "0", "abc", "", "1.5", "9" * 40, "%00", "<script>", " 2 "]


@pytest.mark.parametrize("value, expected", [
    ("1", 1), ("2", 2), (" 3 ", 3), (7, 7), ("-1", 1), ("0", 1), ("abc", 1), ("", 1),
    (None, 1), ("1.5", 1), ("1e3", 1)])
def test_page_number_is_a_whole_number_from_one(value, expected):
    assert page_number(value) == expected


@pytest.mark.parametrize("total, per_page, pages", [(0, 25, 1), (1, 25, 1), (25, 25, 1),
                                                    (26, 25, 2), (60, 25, 3)])
def test_page_count(total, per_page, pages):
    assert page_count(total, per_page) == pages


def make_locations(count, prefix="A"):
    for n in range(count):
        locations_domain.create_location(db.session, f"{prefix}-{n:03d}", prefix, "storage")
    db.session.commit()


# ---------------------------------------------------------------- Locations


def test_locations_page_by_25_in_code_order_and_the_last_page_holds_the_rest(app):
    make_locations(60)
    first = locations_domain.search_locations(db.session)
    assert (first.total, first.page, first.pages) == (60, 1, 3)
    assert [loc.code for loc in first.rows] == [f"A-{n:03d}" for n in range(25)]
    last = locations_domain.search_locations(db.session, page=3)
    assert [loc.code for loc in last.rows] == [f"A-{n:03d}" for n in range(50, 60)]
    beyond = locations_domain.search_locations(db.session, page=99)
    assert beyond.page == 3 and beyond.rows == last.rows


def test_locations_search_counts_and_pages_only_the_matches(app):
    make_locations(30, "A")
    make_locations(3, "B")
    found = locations_domain.search_locations(db.session, "b-0")
    assert (found.total, found.pages) == (3, 1)
    assert [loc.code for loc in found.rows] == ["B-000", "B-001", "B-002"]
    by_zone = locations_domain.search_locations(db.session, "a", page=2)
    assert by_zone.total == 30 and len(by_zone.rows) == 5
    nothing = locations_domain.search_locations(db.session, "ZZZ")
    assert (nothing.total, nothing.page, nothing.pages, nothing.rows) == (0, 1, 1, [])
    wild = locations_domain.search_locations(db.session, "%_")
    assert wild.total == 0  # LIKE's wildcards are searched for as characters


def test_locations_screen_pages_and_links_the_next_page(as_role):
    make_locations(60)
    b = as_role("supervisor")
    body = b.get("/locations").get_data(as_text=True)
    assert "60 location(s) · page 1 of 3" in body
    assert body.count('data-code="A-') == 25
    assert 'href="/locations?page=2"' in body and 'aria-label="Location pages"' in body
    last = b.get("/locations?page=3", htmx=True).get_data(as_text=True)
    assert "<html" not in last and "page 3 of 3" in last
    assert last.count('data-code="A-') == 10 and ">Next<" not in last and ">Previous<" in last
    searched = b.get("/locations?q=A-05&page=1").get_data(as_text=True)
    assert "10 location(s) matching “A-05” · page 1 of 1" in searched
    assert 'aria-label="Location pages"' not in searched  # one page: no pager


def test_locations_search_that_matches_nothing_says_so(as_role):
    make_locations(3)
    body = as_role("supervisor").get("/locations?q=NOPE", htmx=True).get_data(as_text=True)
    assert "0 location(s) matching “NOPE” · page 1 of 1" in body
    assert "No locations match “NOPE”" in body


@pytest.mark.parametrize("value", HOSTILE_PAGES)
def test_locations_hostile_page_answers_with_a_page_that_says_which(as_role, value):
    make_locations(30)
    response = as_role("supervisor").get("/locations", query_string={"page": value})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    expected = 2 if value.strip() == "2" or value == "9" * 40 else 1
    assert f"page {expected} of 2" in body
    assert "<script>" not in body


# ---------------------------------------------------------------- Items


def test_items_last_page_and_a_search_that_matches_nothing(app):
    for n in range(30):
        make_item(f"S-{n:02d}", description=f"Thing {n}")
    last = items_domain.search_items(db.session, page=2)
    assert (last.total, last.page, last.pages, len(last.items)) == (30, 2, 2, 5)
    assert items_domain.search_items(db.session, page=5).page == 2
    nothing = items_domain.search_items(db.session, q="NO-SUCH")
    assert (nothing.total, nothing.page, nothing.pages, nothing.items) == (0, 1, 1, [])


@pytest.mark.parametrize("value", HOSTILE_PAGES)
def test_items_hostile_page_answers_with_a_page_that_says_which(as_role, value):
    for n in range(30):
        make_item(f"S-{n:02d}")
    response = as_role("supervisor").get("/items", query_string={"page": value})
    assert response.status_code == 200
    expected = 2 if value.strip() == "2" or value == "9" * 40 else 1
    assert f"page {expected} of 2" in response.get_data(as_text=True)


def test_items_search_that_matches_nothing_says_so(as_role):
    make_item("S-1")
    body = as_role("supervisor").get("/items?q=zzz", htmx=True).get_data(as_text=True)
    assert "0 item(s) · page 1 of 1" in body and "No items match “zzz”" in body


# ---------------------------------------------------------------- Orders


def test_orders_page_newest_first_and_by_status(app):
    make_item("S-1")
    for n in range(30):
        make_order(f"SO-{n:03d}", S_1=1)
    first = orders_domain.page_orders(db.session)
    assert (first.total, first.pages) == (30, 2)
    assert [o.number for o in first.orders][:2] == ["SO-029", "SO-028"]
    last = orders_domain.page_orders(db.session, page="2")
    assert [o.number for o in last.orders] == [f"SO-{n:03d}" for n in range(4, -1, -1)]
    none_shipped = orders_domain.page_orders(db.session, "shipped")
    assert (none_shipped.total, none_shipped.orders, none_shipped.status) == (0, [], "shipped")
    assert orders_domain.page_orders(db.session, "bogus").status is None


@pytest.mark.parametrize("value", HOSTILE_PAGES)
def test_orders_hostile_page_answers_with_a_page_that_says_which(as_role, value):
    make_item("S-1")
    for n in range(30):
        make_order(f"SO-{n:03d}", S_1=1)
    response = as_role("supervisor").get("/orders", query_string={"page": value})
    assert response.status_code == 200
    expected = 2 if value.strip() == "2" or value == "9" * 40 else 1
    assert f"30 order(s) · page {expected} of 2" in response.get_data(as_text=True)


# ---------------------------------------------------------------- Purchase orders


def test_purchase_orders_page_newest_first(as_role):
    from lotline import inventory

    make_item("S-1")
    for n in range(27):
        inventory.create_purchase_order(db.session, f"PO-{n:03d}", "", [{"sku": "S-1",
                                                                       "qty": 1}])
    db.session.commit()
    last = inventory.page_purchase_orders(db.session, page=2)
    assert (last.total, last.page, last.pages) == (27, 2, 2)
    assert [po.number for po in last.orders] == ["PO-001", "PO-000"]
    b = as_role("supervisor")
    body = b.get("/purchase-orders?page=abc").get_data(as_text=True)
    assert "27 purchase order(s) · page 1 of 2" in body and 'data-po="PO-026"' in body
    assert 'data-po="PO-001"' not in body and 'href="/purchase-orders?page=2"' in body
