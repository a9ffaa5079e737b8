"""The Orders screens for supervisors: create (form and CSV), filter, detail, cancel, ship."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, packing, picking
from lotline import orders as orders_domain
from lotline import settings as settings_domain
from lotline.extensions import db
from lotline.models import Order, OrderLine
from tests.conftest import make_item

NOBODY = inventory.Actor(None, "ST-1")


@pytest.fixture
def wh(app):
    locations.create_location(db.session, "A-01")
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN")
    db.session.commit()


@pytest.fixture
def sup(as_role, wh):
    return as_role("supervisor")


def order_count():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Order)),
            db.session.scalar(select(func.count()).select_from(OrderLine)))


def get_order(number) -> Order:
    db.session.expire_all()
    return orders_domain.get_order(db.session, number)


def form(**overrides):
    data = {"number": "SO-1", "customer": "Acme Foods", "customer_ref": "PO-55",
            "ship_to": "1 Dock Rd", "lines": "LOT-1 3\nPLAIN, 2"}
    data.update(overrides)
    return data


def upload(browser, text, name="orders.csv"):
    return browser.post("/orders/upload", {"file": (io.BytesIO(text.encode()), name)},
                        content_type="multipart/form-data")


def domain_order(number, **lines):
    orders_domain.create_order(db.session, number, "Customer",
                               [{"sku": sku.replace("_", "-"), "qty": q}
                                for sku, q in lines.items()])
    db.session.commit()


def pick_all(number):
    """Pick every line of ``number`` where picking directs (packing follows picking)."""
    while (task := picking.next_task(db.session, get_order(number))) is not None:
        assert task.location is not None and task.blocked is None, task.text
        picking.pick(db.session, order_number=number, location=task.location.code,
                     sku=task.line.item.sku, qty=task.qty, actor=NOBODY)


def packed_order(number="SO-9", close=True):
    domain_order(number, PLAIN=1)
    inventory.put(db.session, location="A-01", sku="PLAIN", lot=None, qty=1, actor=NOBODY)
    pick_all(number)
    packing.pack(db.session, order_number=number, sku="PLAIN", actor=NOBODY)
    if close:
        packing.close_carton(db.session, order_number=number)
        db.session.commit()
    assert get_order(number).status == "packed"


# ---------------------------------------------------------------- create with the form


def test_create_an_order_with_the_form(sup):
    page = sup.get("/orders").get_data(as_text=True)
    assert 'for="lines"' in page and 'for="number"' in page and 'for="customer"' in page
    response = sup.post("/orders/new", form(number="so-1"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/orders/SO-1")
    order = get_order("SO-1")
    assert (order.customer_name, order.customer_ref, order.ship_to, order.status) == \
        ("Acme Foods", "PO-55", "1 Dock Rd", "open")
    assert [(ln.item.sku, ln.qty) for ln in order.lines] == [("LOT-1", 3), ("PLAIN", 2)]
    detail = sup.get(response.headers["Location"]).get_data(as_text=True)
    assert "Created order SO-1." in detail and "Order SO-1 · open" in detail


def test_duplicate_order_number_is_409_and_changes_nothing(sup):
    assert sup.post("/orders/new", form()).status_code == 302
    before = order_count()
    response = sup.post("/orders/new", form(number="so-1", lines="PLAIN 9"))
    assert response.status_code == 409
    assert "Order SO-1 already exists." in response.get_data(as_text=True)
    assert order_count() == before
    assert [ln.qty for ln in get_order("SO-1").lines] == [3, 2]


@pytest.mark.parametrize("lines, fragments", [
    ("LOT-1 3\nNOPE 2", ["Line 2:", "NOPE"]),                     # unknown SKU
    ("LOT-1", ["Line 1:", "SKU"]),                                 # no quantity
    ("LOT-1 3 extra", ["Line 1:", "SKU"]),                         # too many parts
    ("LOT-1 0", ["Line 1:", "Quantity must be from 1"]),           # zero
    ("PLAIN 2\nLOT-1 -4", ["Line 2:", "Quantity must be from 1"]),  # negative
    ("PLAIN 2\n\nLOT-1 0", ["Line 3:", "Quantity must be from 1"]),  # the box's line number
    ("LOT-1 two", ["Line 1:", "whole number"]),                    # not a number
    ("LOT-1 2\nLOT-1 3", ["Line 2:", "LOT-1 is on the order twice"]),
    ("\n\n", ["Fill in the order number, customer and lines."]),
])
def test_bad_lines_give_a_clear_error_and_create_nothing(sup, lines, fragments):
    response = sup.post("/orders/new", form(lines=lines))
    assert response.status_code == (404 if "NOPE" in lines else 422)  # unknown_item: 404
    html = response.get_data(as_text=True)
    alert = html.split('role="alert"', 1)[1].split("</div>", 1)[0]
    for fragment in fragments:
        assert fragment in alert
    assert order_count() == (0, 0)


@pytest.mark.parametrize("field, value", [("number", ""), ("customer", ""), ("lines", ""),
                                          ("number", "bad number!")])
def test_missing_or_bad_fields_are_refused(sup, field, value):
    response = sup.post("/orders/new", form(**{field: value}))
    assert response.status_code == 422
    assert 'role="alert"' in response.get_data(as_text=True)
    assert order_count() == (0, 0)


def test_create_without_csrf_is_refused(sup):
    response = sup.post("/orders/new", form(), csrf=False)
    assert response.status_code in (400, 422)
    assert order_count() == (0, 0)


# ---------------------------------------------------------------- CSV upload


GOOD_CSV = """order,customer,sku,qty,customer_ref,ship_to
SO-10,Acme,LOT-1,2,R-1,Dock 1
SO-11,Beta,PLAIN,1,,
SO-10,Acme,PLAIN,4,R-1,Dock 1
"""


def test_csv_upload_creates_orders_grouped_by_number(sup):
    response = upload(sup, GOOD_CSV)
    assert response.status_code == 302 and response.headers["Location"].endswith("/orders")
    assert order_count() == (2, 3)
    so10, so11 = get_order("SO-10"), get_order("SO-11")
    assert [(ln.item.sku, ln.qty) for ln in so10.lines] == [("LOT-1", 2), ("PLAIN", 4)]
    assert (so10.customer_name, so10.customer_ref, so10.ship_to) == ("Acme", "R-1", "Dock 1")
    assert [(ln.item.sku, ln.qty) for ln in so11.lines] == [("PLAIN", 1)]
    listing = sup.get("/orders").get_data(as_text=True)
    assert "Imported 2 order(s): SO-10, SO-11." in listing
    assert 'data-order="SO-10"' in listing and 'data-order="SO-11"' in listing


@pytest.mark.parametrize("text, message", [
    ("order,customer,sku,qty\nSO-10,Acme,LOT-1,2\nSO-11,Beta,NOPE,1\n",
     "Line 3: no item has the SKU or GTIN “NOPE”. Change the sku column to an item's SKU, or "
     "add the item on the Items screen first."),
    ("order,customer,sku,qty\nSO-10,Acme,LOT-1,2\nSO-10,Acme,PLAIN,0\n",
     "Line 3: the qty “0” is not a whole number from 1 to 1,000,000. Change it in the qty "
     "column."),
    ("order,customer,sku,qty\nSO-10,Acme,LOT-1,2\nbad number!,Acme,PLAIN,1\n",
     "Line 3: the order number “bad number!” is not one Lotline takes: 1 to 32 letters, "
     "digits or . _ / -, not starting with CMD:. Change it in the order column."),
    ("order,customer,sku,qty\nSO-10,Acme,LOT-1,2\nSO-10,Acme,LOT-1,3\n",
     "Line 3: LOT-1 is on order SO-10 in an earlier row too. Add the quantities into one row "
     "and delete the other."),
    ("order,customer,sku,qty\nSO-10,,LOT-1,2\n",
     "Line 2: the customer is empty or longer than 100 characters. Write the customer's name "
     "in the customer column."),
    ("order,customer,sku,qty,ship_to\nSO-10,Acme,LOT-1,2,\"" + "x" * 301 + "\"\n",
     "Line 2: the ship_to has more than 300 characters. Shorten it in the ship_to column."),
    # the file's own lines: blank lines and a quoted cell over two lines count
    ("order,customer,sku,qty,ship_to\n\nSO-10,Acme,LOT-1,2,\"Dock 1\nGate 2\"\n\n"
     "SO-11,Beta,PLAIN,two,\n", "Line 6: the qty “two” is not a whole number"),
    ("order,customer,sku\nSO-10,Acme,LOT-1\n",
     "Line 1: the header row has no qty column. Make the first line of the file name the "
     "columns: order, customer, sku, qty, customer_ref, ship_to (the required ones: order, "
     "customer, sku, qty)."),
    ("order,customer,sku,qty\n", "The file has no order lines under its header row."),
])
def test_bad_csv_creates_nothing_and_says_which_line_and_what_to_change(sup, text, message):
    response = upload(sup, text)
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert "Nothing was imported. " + message in body or message.startswith("The file") \
        and message in body
    assert "label again" not in body and "Scan the" not in body  # a file is not scanned
    assert "(from line" not in body and not re.search(r"Line \d+: Line \d+", body)
    assert order_count() == (0, 0)


def test_csv_with_an_existing_order_number_creates_nothing(sup):
    domain_order("SO-11", PLAIN=1)
    response = upload(sup, GOOD_CSV)
    assert response.status_code == 422
    assert "Nothing was imported. Line 3: order SO-11 already exists in Lotline. Delete its " \
        "rows from the file, or give it another number in the order column." in \
        response.get_data(as_text=True)
    assert order_count() == (1, 1)


def test_non_utf8_csv_is_refused(sup):
    response = sup.post("/orders/upload", {"file": (io.BytesIO(b"\xff\xfe\x00o\x00r"),
                                                    "orders.csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not UTF-8" in response.get_data(as_text=True)
    assert order_count() == (0, 0)


def test_upload_without_a_file_is_refused(sup):
    response = sup.post("/orders/upload", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file" in response.get_data(as_text=True)


# ---------------------------------------------------------------- list and filter


def test_status_filter_returns_a_fragment_for_htmx(sup):
    domain_order("SO-1", PLAIN=1)
    domain_order("SO-2", PLAIN=1)
    orders_domain.cancel_order(db.session, get_order("SO-2"))
    db.session.commit()

    fragment = sup.get("/orders?status=cancelled", htmx=True)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert 'id="order-table"' in html
    assert 'data-order="SO-2"' in html and 'data-order="SO-1"' not in html

    open_only = sup.get("/orders?status=open", htmx=True).get_data(as_text=True)
    assert 'data-order="SO-1"' in open_only and 'data-order="SO-2"' not in open_only

    none = sup.get("/orders?status=shipped", htmx=True).get_data(as_text=True)
    assert "No orders with status shipped." in none

    full = sup.get("/orders?status=cancelled").get_data(as_text=True)
    assert "<html" in full and 'data-order="SO-2"' in full and 'data-order="SO-1"' not in full
    assert '<option value="cancelled" selected>' in full

    everything = sup.get("/orders?status=bogus", htmx=True).get_data(as_text=True)
    assert 'data-order="SO-1"' in everything and 'data-order="SO-2"' in everything


# ---------------------------------------------------------------- detail


def test_detail_shows_picks_and_pack_lines_with_the_mismatch_flag(sup):
    settings_domain.set_setting(db.session, settings_domain.REQUIRE_LOT_SERIAL_AT_PACK, True,
                                None)
    db.session.commit()
    domain_order("SO-1", LOT_1=2)
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="PICKED-L1", qty=5,
                  actor=NOBODY)
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="LOT-1", qty=2,
                 actor=NOBODY)
    packing.pack(db.session, order_number="SO-1", sku="LOT-1", lot="PICKED-L1", actor=NOBODY)
    packing.pack(db.session, order_number="SO-1", sku="LOT-1", lot="OTHER-L9", actor=NOBODY)

    page = sup.get("/orders/so-1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    picks = html.split("<h2>Picks")[1].split("<h2>Cartons")[0]
    assert "A-01" in picks and "PICKED-L1" in picks and ">2<" in picks
    cartons = html.split("<h2>Cartons")[1]
    assert "Carton 1 · open" in cartons
    assert html.count('data-mismatch="1"') == 1 and html.count("⚠ mismatch") == 1
    flagged = html.split('data-mismatch="1"')[1].split("</tr>")[0]
    assert "OTHER-L9" in flagged and "PICKED-L1" in flagged
    assert "ST-1" in cartons


def test_detail_of_an_unknown_order_is_404(sup):
    assert sup.get("/orders/NOPE").status_code == 404


# ---------------------------------------------------------------- cancel and ship


def test_cancel_an_open_order(sup):
    domain_order("SO-1", PLAIN=1)
    assert "Cancel order" in sup.get("/orders/SO-1").get_data(as_text=True)
    response = sup.post("/orders/SO-1/cancel")
    assert response.status_code == 302
    assert get_order("SO-1").status == "cancelled"
    page = sup.get("/orders/SO-1").get_data(as_text=True)
    assert "Order SO-1 is cancelled." in page and "Cancel order" not in page


def test_a_packed_order_cannot_be_cancelled(sup):
    packed_order("SO-9")
    response = sup.post("/orders/SO-9/cancel")
    assert response.status_code == 422
    assert "Order SO-9 is packed; it can no longer be cancelled." in \
        response.get_data(as_text=True)
    assert get_order("SO-9").status == "packed"


def test_ship_only_a_packed_order_with_its_cartons_closed(sup):
    domain_order("SO-1", PLAIN=1)
    response = sup.post("/orders/SO-1/ship")
    assert response.status_code == 422
    assert "Order SO-1 is open; only a packed order ships." in response.get_data(as_text=True)
    assert get_order("SO-1").status == "open"

    packed_order("SO-8", close=False)
    response = sup.post("/orders/SO-8/ship")
    assert response.status_code == 422
    assert "Close the open carton before shipping." in response.get_data(as_text=True)
    assert get_order("SO-8").status == "packed"

    packed_order("SO-9")
    assert "Mark shipped" in sup.get("/orders/SO-9").get_data(as_text=True)
    assert sup.post("/orders/SO-9/ship").status_code == 302
    shipped = get_order("SO-9")
    assert shipped.status == "shipped" and shipped.shipped_at is not None
    assert sup.post("/orders/SO-9/cancel").status_code == 422
    assert sup.post("/orders/SO-9/ship").status_code == 422
    assert get_order("SO-9").status == "shipped"


def test_unknown_action_or_order_is_404(sup):
    domain_order("SO-1", PLAIN=1)
    assert sup.post("/orders/SO-1/delete").status_code == 404
    assert sup.post("/orders/NOPE/cancel").status_code == 404
    assert get_order("SO-1").status == "open"


def test_cancel_without_csrf_changes_nothing(sup):
    domain_order("SO-1", PLAIN=1)
    response = sup.post("/orders/SO-1/cancel", csrf=False)
    assert response.status_code == 400
    assert get_order("SO-1").status == "open"


# ---------------------------------------------------------------- roles


def test_packer_gets_403_on_the_orders_screens(as_role, wh):
    domain_order("SO-1", PLAIN=1)
    packer = as_role("packer")
    assert packer.get("/orders").status_code == 403
    assert packer.get("/orders/SO-1").status_code == 403
    assert packer.post("/orders/new", form(number="SO-2")).status_code == 403
    assert packer.post("/orders/SO-1/cancel").status_code == 403
    assert order_count() == (1, 1) and get_order("SO-1").status == "open"


def test_admin_may_use_the_orders_screens(as_role, wh):
    assert as_role("admin").get("/orders").status_code == 200


def test_signed_out_is_sent_to_sign_in(client, wh):
    response = client.get("/orders")
    assert response.status_code in (302, 401)
