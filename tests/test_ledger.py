"""The ledger screen and its domain: filters, paging, CSV export, bad filters, roles."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import types

import pytest
from sqlalchemy import event, select, update

from lotline import inventory, ledger, locations
from lotline.errors import ValidationError
from lotline.extensions import db
from lotline.models import LedgerEntry
from tests.conftest import make_item, make_user

HEADER = "time_utc,type,sku,location,lot,delta,qty_after,user,station,reference"


def actor(username, station="ST-1"):
    from lotline.models import User

    return inventory.Actor(db.session.scalar(select(User).where(User.username == username)),
                           station)


@pytest.fixture
def wh(app):
    """Six ledger rows made through the real transactions:
    1 put A-01 LOT-1 L1 +5 alice · 2 put B-01 PLAIN +3 bob · 3 pull A-01 LOT-1 L1 -2 bob ·
    4 move-out A-01 LOT-1 L1 -1 alice · 5 move-in B-02 LOT-1 L1 +1 alice ·
    6 put C-01 LOT-1 L2 +4 alice"""
    for code in ("A-01", "B-01", "B-02", "C-01"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN")
    make_user("alice", "packer")
    make_user("bob", "packer")
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="L1", qty=5,
                  actor=actor("alice"), reference="PO-1")
    inventory.put(db.session, location="B-01", sku="PLAIN", lot=None, qty=3,
                  actor=actor("bob", "ST-2"), reference="=SUM(A1:A9)")
    inventory.pull(db.session, location="A-01", sku="LOT-1", lot="L1", qty=2,
                   actor=actor("bob", "ST-2"))
    inventory.move(db.session, from_location="A-01", to_location="B-02", sku="LOT-1",
                   lot="L1", qty=1, actor=actor("alice"))
    inventory.put(db.session, location="C-01", sku="LOT-1", lot="L2", qty=4,
                  actor=actor("alice"))
    ids = list(db.session.scalars(select(LedgerEntry.id).order_by(LedgerEntry.id)))
    assert len(ids) == 6
    return ids


@pytest.fixture
def sup(as_role, wh):
    return as_role("supervisor")


def described(rows) -> list[tuple]:
    return [(e.type, e.location.code, e.item.sku, e.lot.number if e.lot else None, e.delta,
             e.user.username if e.user else None) for e in rows]


def shown_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-ledger-id="(\d+)"', html)]


def alert(html: str) -> str:
    return html.split('role="alert"', 1)[1].split("</div>", 1)[0]


# ---------------------------------------------------------------- filters (domain)


@pytest.mark.parametrize("filters, expected", [
    ({}, [1, 2, 3, 4, 5, 6]),
    ({"sku": "PLAIN"}, [2]),
    ({"sku": " LOT-1 "}, [1, 3, 4, 5, 6]),
    ({"lot": "L1"}, [1, 3, 4, 5]),
    ({"lot": "L2"}, [6]),
    ({"location": "a-01"}, [1, 3, 4]),
    ({"location": "B-02"}, [5]),
    ({"user": "bob"}, [2, 3]),
    ({"type": "pull"}, [3]),
    ({"type": "move-in"}, [5]),
    ({"type": "put"}, [1, 2, 6]),
    ({"sku": "LOT-1", "user": "alice", "location": "A-01"}, [1, 4]),
    ({"lot": "L1", "type": "move-out"}, [4]),
    ({"sku": "LOT-1", "lot": "L2", "location": "C-01", "user": "alice", "type": "put"}, [6]),
])
def test_each_filter_narrows_to_exactly_its_rows(wh, filters, expected):
    page = ledger.search_ledger(db.session, **filters)
    wanted = [wh[n - 1] for n in reversed(expected)]  # newest first
    assert [e.id for e in page.rows] == wanted
    assert page.total == len(expected) and page.pages == 1


def test_rows_carry_item_location_lot_and_user(wh):
    page = ledger.search_ledger(db.session, location="A-01")
    assert described(page.rows) == [
        ("move-out", "A-01", "LOT-1", "L1", -1, "alice"),
        ("pull", "A-01", "LOT-1", "L1", -2, "bob"),
        ("put", "A-01", "LOT-1", "L1", 5, "alice"),
    ]
    assert page.filters.params() == {"location": "A-01"}


def test_a_lot_number_shared_by_two_items_is_narrowed_by_sku(wh):
    inventory.put(db.session, location="C-01", sku="PLAIN", lot=None, qty=1,
                  actor=actor("alice"))
    make_item("LOT-2", require_lot=True)
    inventory.put(db.session, location="B-01", sku="LOT-2", lot="L1", qty=7,
                  actor=actor("alice"))
    both = ledger.search_ledger(db.session, lot="L1")
    assert {e.item.sku for e in both.rows} == {"LOT-1", "LOT-2"} and both.total == 5
    one = ledger.search_ledger(db.session, lot="L1", sku="LOT-2")
    assert described(one.rows) == [("put", "B-01", "LOT-2", "L1", 7, "alice")]
    with pytest.raises(ValidationError, match="No lot L2 of PLAIN is on record"):
        ledger.search_ledger(db.session, lot="L2", sku="PLAIN")


def backdate(entry_id: int, when: dt.datetime) -> None:
    db.session.execute(update(LedgerEntry).where(LedgerEntry.id == entry_id)
                       .values(created_at=when))
    db.session.commit()


def test_dates_filter_by_day_and_to_includes_its_whole_day(wh):
    backdate(wh[0], dt.datetime(2024, 3, 1, 10, 0))
    backdate(wh[1], dt.datetime(2024, 3, 2, 0, 0, 0))
    backdate(wh[2], dt.datetime(2024, 3, 2, 23, 59, 59))
    backdate(wh[3], dt.datetime(2024, 3, 3, 0, 0, 0))

    def ids(**filters):
        return sorted(e.id for e in ledger.search_ledger(db.session, **filters).rows)

    assert ids(date_from=dt.date(2024, 3, 2), date_to=dt.date(2024, 3, 2)) == [wh[1], wh[2]]
    assert ids(date_to=dt.date(2024, 3, 1)) == [wh[0]]
    assert ids(date_from=dt.date(2024, 3, 3), date_to=dt.date(2024, 3, 3)) == [wh[3]]
    assert ids(date_from=dt.date(2024, 3, 3)) == [wh[3], wh[4], wh[5]]  # 4 and 5 are today
    assert ids(date_from="2024-03-02", date_to="2024-03-02", user="bob") == [wh[1], wh[2]]
    assert ids(date_from=dt.date(2024, 3, 4), date_to=dt.date(2024, 3, 31)) == []


# ---------------------------------------------------------------- paging (domain)


def test_paging_splits_newest_first_and_clamps(wh):
    pages = [ledger.search_ledger(db.session, per_page=4, page=n) for n in (1, 2)]
    assert [p.total for p in pages] == [6, 6] and [p.pages for p in pages] == [2, 2]
    assert [e.id for e in pages[0].rows] == wh[::-1][:4]
    assert [e.id for e in pages[1].rows] == wh[::-1][4:]
    assert ledger.search_ledger(db.session, per_page=4, page=99).page == 2
    assert ledger.search_ledger(db.session, per_page=4, page="x").page == 1
    assert ledger.search_ledger(db.session, per_page=4, page=-3).page == 1
    empty = ledger.search_ledger(db.session, type="cycle-count")
    assert (empty.rows, empty.total, empty.page, empty.pages) == ([], 0, 1, 1)


# ---------------------------------------------------------------- bad filters (domain)


@pytest.mark.parametrize("filters, field, message", [
    ({"type": "steal"}, "type", "Type steal is not a ledger type"),
    ({"sku": "NOPE"}, "sku", "No item with SKU NOPE"),
    ({"location": "zz-9"}, "location", "No location ZZ-9"),
    ({"user": "mallory"}, "user", "No user mallory"),
    ({"lot": "NOPE"}, "lot", "No lot NOPE is on record"),
    ({"lot": "has space"}, "lot", "A lot number has 1 to 64 printable characters"),
    ({"date_from": "2024-13-01"}, "date_from", "2024-13-01 is not a date"),
    ({"date_to": "yesterday"}, "date_to", "yesterday is not a date"),
    ({"date_from": dt.date(2024, 3, 5), "date_to": dt.date(2024, 3, 1)}, "date_from",
     "From (2024-03-05) is after To (2024-03-01)"),
])
def test_bad_filters_raise_a_validation_error_naming_the_field(wh, filters, field, message):
    with pytest.raises(ValidationError) as caught:
        ledger.search_ledger(db.session, **filters)
    assert caught.value.field == field and message in caught.value.message
    with pytest.raises(ValidationError):
        ledger.ledger_csv_rows(db.session, **filters)  # checked when called, not when read


# ---------------------------------------------------------------- CSV (domain)


def test_csv_rows_stream_in_chunks_by_id(wh):
    statements = []

    def count(conn, cursor, statement, *args):
        if "FROM ledger_entry" in statement:
            statements.append(statement)

    rows = ledger.ledger_csv_rows(db.session, chunk_size=2)
    assert isinstance(rows, types.GeneratorType)
    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        out = list(rows)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert out[0] == list(ledger.CSV_HEADER) and ",".join(out[0]) == HEADER
    assert [r[1] for r in out[1:]] == ["put", "move-in", "move-out", "pull", "put", "put"]
    assert len(statements) == 4  # three full chunks of two, then an empty one ends it
    assert ledger.search_ledger(db.session).total == len(out) - 1

    statements.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        again = list(ledger.ledger_csv_rows(db.session, chunk_size=4))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert again == out and len(statements) == 2  # a short chunk is the last one


# ---------------------------------------------------------------- the screen


def test_the_page_has_a_labelled_filter_form_that_updates_the_table_in_place(sup, wh):
    response = sup.get("/ledger")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name, label in (("sku", "Item"), ("lot", "Lot"), ("location", "Location"),
                        ("user", "User"), ("from", "From"), ("to", "To")):
        assert f'<label for="ledger-{name}">{label}</label>' in html
    assert '<label for="ledger-type">Type</label>' in html
    assert '<select id="ledger-type" name="type">' in html
    for kind in ("putaway", "move-out", "cycle-count", "hold", "release"):
        assert f'<option value="{kind}">{kind}</option>' in html
    form = html.split('class="ledger-filters"', 1)[1].split(">", 1)[0]
    assert 'method="get"' in form and 'hx-get="/ledger"' in form
    assert 'hx-target="#ledger-results"' in form and 'hx-swap="outerHTML"' in form
    assert shown_ids(html) == wh[::-1]
    assert "6 change(s) · page 1 of 1" in html


def test_filtering_with_htmx_returns_only_the_results_region(sup, wh):
    response = sup.get("/ledger?user=bob&type=", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="ledger-results">')
    assert shown_ids(html) == [wh[2], wh[1]]
    row = html.split(f'data-ledger-id="{wh[2]}"')[1].split("</tr>")[0]
    assert all(f">{text}<" in row for text in ("pull", "LOT-1", "A-01", "L1", "-2", "3",
                                               "bob", "ST-2"))
    assert 'href="/ledger/export.csv?user=bob"' in html


def test_filtering_without_javascript_keeps_the_filters_in_the_form(sup, wh):
    response = sup.get("/ledger?sku=LOT-1&location=a-01&type=pull")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert shown_ids(html) == [wh[2]]
    assert 'name="sku" value="LOT-1"' in html and 'name="location" value="a-01"' in html
    assert '<option value="pull" selected>' in html


def test_the_screen_pages_and_keeps_the_filters_in_its_links(sup, wh):
    for _ in range(52):
        inventory.put(db.session, location="C-01", sku="LOT-1", lot="L2", qty=1,
                      actor=actor("bob"))
    first = sup.get("/ledger?location=C-01&user=bob", htmx=True).get_data(as_text=True)
    assert "52 change(s) · page 1 of 2" in first and len(shown_ids(first)) == 50
    nxt = re.search(r'<a class="button" href="([^"]+)" hx-get="\1" hx-target="#ledger-results"'
                    r'[^>]*>Next</a>', first)
    assert nxt and "page=2" in nxt.group(1)
    assert "location=C-01" in nxt.group(1) and "user=bob" in nxt.group(1)
    assert "Previous</a>" not in first
    second = sup.get(nxt.group(1).replace("&amp;", "&"), htmx=True).get_data(as_text=True)
    assert "page 2 of 2" in second and len(shown_ids(second)) == 2
    assert set(shown_ids(first)).isdisjoint(shown_ids(second))
    assert "Previous</a>" in second and "Next</a>" not in second
    assert wh[5] not in shown_ids(first) + shown_ids(second)  # alice's C-01 put is filtered out


@pytest.mark.parametrize("query, message", [
    ("type=steal", "Type: Type steal is not a ledger type."),
    ("sku=NOPE", "Item: No item with SKU NOPE."),
    ("location=ZZ-9", "Location: No location ZZ-9."),
    ("user=mallory", "User: No user mallory."),
    ("lot=NOPE", "Lot: No lot NOPE is on record."),
    ("date_from=2024-02-30", "From: 2024-02-30 is not a date. Use the form YYYY-MM-DD."),
    ("date_from=2024-03-05&date_to=2024-03-01", "From: From (2024-03-05) is after To"),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_filters_are_422_with_a_clear_message_and_an_empty_table(sup, wh, query, message,
                                                                     htmx):
    response = sup.get(f"/ledger?{query}", htmx=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("<html" in html) is not htmx
    assert message in alert(html) and 'data-error-code="validation_error"' in html
    assert shown_ids(html) == [] and "the filters above need fixing" in html
    assert "Export CSV" not in html


# ---------------------------------------------------------------- CSV export


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_export_streams_a_csv_attachment_of_the_filtered_rows(sup, wh):
    response = sup.get("/ledger/export.csv?user=bob")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and re.search(r'filename="ledger-[\d-]+\.csv"',
                                                               disposition)
    rows = read_csv(response)
    assert ",".join(rows[0]) == HEADER
    assert [r[1:] for r in rows[1:]] == [
        ["pull", "LOT-1", "A-01", "L1", "-2", "3", "bob", "ST-2", ""],
        ["put", "PLAIN", "B-01", "", "3", "3", "bob", "ST-2", "'=SUM(A1:A9)"],  # no formula
    ]
    stamp = dt.datetime.fromisoformat(rows[1][0])
    assert abs(stamp - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=5)


def test_the_export_link_carries_the_screen_filters(sup, wh):
    html = sup.get("/ledger?sku=LOT-1&lot=L1&type=move-in").get_data(as_text=True)
    link = re.search(r'href="(/ledger/export\.csv[^"]*)"', html).group(1).replace("&amp;", "&")
    rows = read_csv(sup.get(link))
    assert [r[1:5] for r in rows[1:]] == [["move-in", "LOT-1", "B-02", "L1"]]


def test_export_of_everything_and_of_nothing(sup, wh):
    everything = read_csv(sup.get("/ledger/export.csv"))
    assert len(everything) == 7 and [r[1] for r in everything[1:]] == \
        ["put", "move-in", "move-out", "pull", "put", "put"]
    nothing = read_csv(sup.get("/ledger/export.csv?type=cycle-count"))
    assert nothing == [HEADER.split(",")]


def test_export_with_a_bad_filter_is_422_not_a_csv(sup, wh):
    response = sup.get("/ledger/export.csv?location=ZZ-9&sku=LOT-1")
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Location: No location ZZ-9." in alert(response.get_data(as_text=True))
    assert "Content-Disposition" not in response.headers


# ---------------------------------------------------------------- roles


def test_packer_gets_403_on_the_ledger(as_role, wh):
    packer = as_role("packer")
    assert packer.get("/ledger").status_code == 403
    assert packer.get("/ledger", htmx=True).status_code == 403
    response = packer.get("/ledger/export.csv")
    assert response.status_code == 403 and "time_utc" not in response.get_data(as_text=True)


def test_admin_may_read_the_ledger(as_role, wh):
    assert shown_ids(as_role("admin").get("/ledger").get_data(as_text=True)) == wh[::-1]


def test_signed_out_is_sent_to_sign_in(client, wh):
    assert client.get("/ledger/export.csv").status_code in (302, 401)
