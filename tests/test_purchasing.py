"""Purchase orders: the list (status, ordered/received/remaining) and New purchase order."""

import pytest
from sqlalchemy import func, select

from blueprints.purchasing import LinesError, parse_lines
from lotline import inventory
from lotline import locations as locations_domain
from lotline.extensions import db
from lotline.models import PurchaseOrder, PurchaseOrderLine
from tests.conftest import make_item


def po(number):
    db.session.expire_all()
    return db.session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(PurchaseOrder)),
            db.session.scalar(select(func.count()).select_from(PurchaseOrderLine)))


def form(**overrides):
    data = {"number": "PO-100", "vendor": "Acme Foods", "lines": "SKU-1 12\nSKU-2 5\n"}
    data.update(overrides)
    return data


@pytest.fixture
def items(app):
    make_item("SKU-1")
    make_item("SKU-2", require_lot=True)


# ---------------------------------------------------------------- the list


def test_list_shows_status_and_ordered_received_remaining_per_line(as_role, items):
    locations_domain.create_location(db.session, "DOCK-1", "", "receiving")
    for number in ("PO-OPEN", "PO-PART", "PO-DONE"):
        inventory.create_purchase_order(db.session, number, "Acme",
                                        [{"sku": "SKU-1", "qty": 10}, {"sku": "SKU-2", "qty": 4}])
    db.session.commit()
    actor = inventory.Actor(None)
    inventory.putaway(db.session, po_number="PO-PART", location="DOCK-1", sku="SKU-1", lot=None,
                      qty=3, actor=actor)
    inventory.putaway(db.session, po_number="PO-DONE", location="DOCK-1", sku="SKU-1", lot=None,
                      qty=10, actor=actor)
    inventory.putaway(db.session, po_number="PO-DONE", location="DOCK-1", sku="SKU-2",
                      lot="L1", qty=4, actor=actor)
    body = as_role("supervisor").get("/purchase-orders").get_data(as_text=True)

    def group(number):
        start = body.index(f'<tbody data-po="{number}">')
        return " ".join(body[start:body.index("</tbody>", start)].split())

    assert "PO-OPEN · Acme · <span data-col=\"status\">Open</span>" in group("PO-OPEN")
    assert '<span data-col="status">Partial</span>' in group("PO-PART")
    assert ('<tr data-sku="SKU-1"> <td class="code">SKU-1</td> <td>3 / 10</td> '
            '<td><strong>7</strong></td>' in group("PO-PART"))
    assert ('<tr data-sku="SKU-2"> <td class="code">SKU-2</td> <td>0 / 4</td> '
            '<td><strong>4</strong></td>' in group("PO-PART"))
    assert '<span data-col="status">Received</span>' in group("PO-DONE")
    assert "<td>4 / 4</td> <td><strong>0</strong></td>" in group("PO-DONE")
    assert body.index('data-po="PO-DONE"') < body.index('data-po="PO-OPEN"')  # newest first
    for field_id, label in [("number", "PO number"), ("vendor", "Vendor"), ("lines", "Lines")]:
        assert f'<label for="{field_id}">{label}</label>' in body
    assert 'class="table-wrap"' in body


def test_list_fragment_has_no_page_shell(as_role, items):
    response = as_role("supervisor").get("/purchase-orders", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="po-list"' in body and "No purchase orders yet" in body


def test_packer_may_not_use_purchase_orders(as_role, items):
    b = as_role("packer")
    assert b.get("/purchase-orders").status_code == 403
    assert b.post("/purchase-orders/new", form(), htmx=True).status_code == 403
    assert counts() == (0, 0)


# ---------------------------------------------------------------- New purchase order


def test_create_purchase_order_redirects_and_saves_its_lines(as_role, items):
    b = as_role("supervisor")
    response = b.post("/purchase-orders/new", form(number="po-100",
                                                   lines="SKU-1 12\n\n  SKU-2\t5  \r\n"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/purchase-orders")
    saved = po("PO-100")
    assert saved.vendor == "Acme Foods" and saved.status == "open"
    assert [(ln.item.sku, ln.qty_ordered, ln.qty_received) for ln in saved.lines] == \
        [("SKU-1", 12, 0), ("SKU-2", 5, 0)]
    assert "Created purchase order PO-100" in b.get("/purchase-orders").get_data(as_text=True)


def test_create_purchase_order_with_htmx_returns_form_and_list_out_of_band(as_role, items):
    response = as_role("supervisor").post("/purchase-orders/new", form(lines="SKU-1,3"),
                                          htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="po-new"' in body
    assert "Created purchase order PO-100 with 1 line(s)." in body
    assert '<div id="po-list" hx-swap-oob="true">' in body and 'data-po="PO-100"' in body
    assert "Acme Foods" not in body.split('id="po-list"')[0]  # the form is empty again
    assert counts() == (1, 1)


@pytest.mark.parametrize("overrides, status, message", [
    ({"number": "po-1"}, 409, "Purchase order PO-1 already exists."),
    ({"number": "PO 2"}, 422, "A PO number has 1 to 32 letters"),
    ({"number": ""}, 422, "This field is required."),
    ({"vendor": "V" * 101}, 422, "Field cannot be longer than 100 characters."),
    ({"lines": ""}, 422, "Add at least one line: the SKU, a space, the quantity."),
    ({"lines": "SKU-1 2\nNOPE 3"}, 404, "No item with SKU or GTIN NOPE"),
    ({"lines": "SKU-1 2\n\nSKU-2 0"}, 422, "Line 3: Quantity must be from 1 to 1,000,000."),
    ({"lines": "SKU-1 2\nSKU-2 -4"}, 422, "Line 2: Quantity must be from 1 to 1,000,000."),
    ({"lines": "\nSKU-1 2\nSKU-2 two"}, 422, "Line 3: the quantity “two” is not a whole number."),
    ({"lines": "SKU-1 2\nSKU-2 1.5"}, 422, "Line 2: the quantity “1.5” is not a whole number."),
    ({"lines": "SKU-1 2\nSKU-2"}, 422, "Line 2: “SKU-2” is not “SKU quantity”."),
    ({"lines": "SKU-1 2\n\nSKU-2 5 boxes"}, 422, "Line 3: “SKU-2 5 boxes” is not “SKU quantity”."),
    ({"lines": "SKU-1 2\n\nSKU-1 3"}, 422, "Line 3: SKU-1 is on the order twice"),
    ({"lines": "\n  \n"}, 422, "Add at least one line: the SKU, a space, the quantity."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_create_purchase_order_refused_says_why_and_changes_nothing(as_role, items, overrides,
                                                                    status, message, htmx):
    inventory.create_purchase_order(db.session, "PO-1", "First", [{"sku": "SKU-1", "qty": 1}])
    db.session.commit()
    response = as_role("supervisor").post("/purchase-orders/new", form(**overrides), htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in body
    assert ("<html" in body) is not htmx
    assert "hx-swap-oob" not in body  # nothing changed, so no list to refresh
    assert counts() == (1, 1) and po("PO-1").vendor == "First"


def test_refused_form_keeps_what_was_typed(as_role, items):
    response = as_role("supervisor").post(
        "/purchase-orders/new", form(number="PO-7", lines="SKU-1 2\nSKU-9 4"), htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert 'value="PO-7"' in body and "SKU-1 2\nSKU-9 4</textarea>" in body
    assert 'class="field-error" role="alert">✖ Line 2: No item with SKU or GTIN SKU-9' in body
    assert po("PO-7") is None


# ---------------------------------------------------------------- the parser


def test_parse_lines_numbers_entries_by_the_box_line():
    entries, numbers = parse_lines("\nA-1 2\n\nB-2;3\r\nC-3, 4\n")
    assert entries == [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 3},
                       {"sku": "C-3", "qty": 4}]
    assert numbers == [2, 4, 5]


def test_parse_lines_refuses_more_than_500_lines():
    with pytest.raises(LinesError, match="at most 500 lines"):
        parse_lines("\n".join(f"S-{n} 1" for n in range(501)))
