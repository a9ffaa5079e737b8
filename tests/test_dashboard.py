"""The supervisor's dashboard: packs in progress, orders waiting, each exception (count, list,
link to the screen that resolves it), the polling fragment, and who may see it."""

from __future__ import annotations

import re

import pytest

from lotline import dashboard, inventory, locations, lots, packing, picking, settings
from lotline import items as items_domain
from lotline import orders as orders_domain
from lotline.extensions import db
from tests.conftest import make_item

NOBODY = inventory.Actor(None)
AT = {station: inventory.Actor(None, station) for station in ("ST-1", "ST-2")}
KEYS = ("needs_count", "blocked_picks", "short_picks", "lot_mismatches", "held_lots")


@pytest.fixture
def wh(app):
    for code in ("A-01", "A-02", "B-01", "B-02"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN")
    make_item("LATE")  # stock first, lot tracking switched on afterwards
    make_item("SCARCE")  # never in stock
    db.session.commit()


@pytest.fixture
def sup(as_role, wh):
    return as_role("supervisor")


def order(number, **lines):
    orders_domain.create_order(db.session, number, "Customer",
                               [{"sku": sku.replace("_", "-"), "qty": q}
                                for sku, q in lines.items()])
    db.session.commit()


def put(location, sku, qty, lot=None):
    inventory.put(db.session, location=location, sku=sku, lot=lot, qty=qty, actor=NOBODY)


def pick_all(number):
    """Pick every line of ``number`` where picking directs (packing follows picking)."""
    while (task := picking.next_task(db.session,
                                     orders_domain.get_order(db.session, number))) is not None:
        assert task.location is not None and task.blocked is None, task.text
        picking.pick(db.session, order_number=number, location=task.location.code,
                     sku=task.line.item.sku, qty=task.qty, actor=NOBODY)


def lotless_tracked_stock(location="A-02", qty=3):
    """LATE stock without a lot, then Require Lot switched on: it needs a cycle count."""
    put(location, "LATE", qty)
    late = items_domain.find_item(db.session, "LATE")
    items_domain.set_require_lot(db.session, [late.id], True)
    db.session.commit()


def section(html: str, key: str) -> str:
    start = html.index(f'data-exception="{key}"')
    return html[start:html.index("</article>", start)]


def counts(html: str) -> dict[str, int]:
    return {key: int(re.search(r'data-count="(\d+)"', section(html, key)).group(1))
            for key in KEYS}


def panel(browser) -> str:
    response = browser.get("/dashboard/panel", htmx=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- the page


def test_a_quiet_warehouse_shows_zero_everywhere(sup):
    response = sup.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html and "<h1>Dashboard</h1>" in html
    assert counts(html) == dict.fromkeys(KEYS, 0)
    assert html.count("✔") == 6 and "⚠" not in html
    assert "No cartons are open at any station." in html
    for status in ("open", "picking", "picked", "packing"):
        assert re.search(rf'data-status="{status}"[^>]*>\s*<span class="dash-number">0</span>',
                         html)


def test_packs_in_progress_are_grouped_by_station(sup):
    put("A-01", "PLAIN", 20)
    for number in ("SO-1", "SO-2", "SO-3", "SO-4"):
        order(number, PLAIN=2)
        pick_all(number)
    packing.pack(db.session, order_number="SO-1", sku="PLAIN", actor=AT["ST-1"])
    packing.pack(db.session, order_number="SO-3", sku="PLAIN", actor=AT["ST-1"])
    packing.pack(db.session, order_number="SO-2", sku="PLAIN", actor=AT["ST-2"])
    packing.pack(db.session, order_number="SO-4", sku="PLAIN", actor=AT["ST-2"])
    packing.close_carton(db.session, order_number="SO-4")  # closed: no longer in progress
    db.session.commit()

    stations = dashboard.packs_in_progress(db.session)
    assert [(s.station, s.cartons, s.orders) for s in stations] == \
        [("ST-1", 2, ["SO-1", "SO-3"]), ("ST-2", 1, ["SO-2"])]

    html = sup.get("/dashboard").get_data(as_text=True)
    st1 = html.split('data-station="ST-1"')[1].split("</li>")[0]
    st2 = html.split('data-station="ST-2"')[1].split("</li>")[0]
    assert "Station ST-1" in st1 and "2 open carton(s)" in st1
    assert 'href="/orders/SO-1"' in st1 and 'href="/orders/SO-3"' in st1
    assert "SO-2" not in st1 and 'href="/orders/SO-2"' in st2 and "SO-4" not in html


def test_orders_waiting_are_counted_by_status(sup):
    put("A-01", "PLAIN", 20)
    order("SO-OPEN1", PLAIN=1)
    order("SO-OPEN2", PLAIN=1)
    order("SO-PICKING", PLAIN=2)
    picking.pick(db.session, order_number="SO-PICKING", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY)
    order("SO-PICKED", PLAIN=1)
    picking.pick(db.session, order_number="SO-PICKED", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY)
    order("SO-PACKING", PLAIN=2)
    pick_all("SO-PACKING")
    packing.pack(db.session, order_number="SO-PACKING", sku="PLAIN", actor=NOBODY)
    order("SO-GONE", PLAIN=1)
    orders_domain.cancel_order(db.session, orders_domain.get_order(db.session, "SO-GONE"))
    db.session.commit()

    expected = {"open": 2, "picking": 1, "picked": 1, "packing": 1}
    assert dashboard.orders_waiting(db.session) == expected
    html = sup.get("/dashboard").get_data(as_text=True)
    for status, count in expected.items():
        tile = re.search(rf'<a class="dash-count" data-status="{status}" href="([^"]+)">\s*'
                         rf'<span class="dash-number">(\d+)</span>', html)
        assert tile and tile.group(1) == f"/orders?status={status}"
        assert int(tile.group(2)) == count


# ---------------------------------------------------------------- the exceptions


def test_needs_cycle_count_counts_lists_and_links_to_its_screen(sup):
    lotless_tracked_stock("A-02", 3)
    html = panel(sup)
    assert counts(html) == {**dict.fromkeys(KEYS, 0), "needs_count": 1}
    box = section(html, "needs_count")
    assert "A-02 · LATE · 3: Lot tracking is on but this stock has no lot." in box
    assert 'href="/needs-count"' in box
    link = re.search(r'href="([^"]+)">Open Needs cycle count', box).group(1)
    assert sup.get(link).status_code == 200


def test_blocked_picks_are_orders_whose_next_task_is_blocked(sup):
    lotless_tracked_stock("A-02", 3)
    put("A-01", "PLAIN", 5)
    order("SO-BLOCKED", LATE=2)
    order("SO-FINE", PLAIN=1)
    order("SO-LATER", PLAIN=1, LATE=1)  # its next task is PLAIN, which is not blocked
    order("SO-GONE", LATE=1)
    orders_domain.cancel_order(db.session, orders_domain.get_order(db.session, "SO-GONE"))
    db.session.commit()

    found = dashboard.blocked_picks(db.session)
    assert found.count == 1 and [c.order for c in found.cases] == ["SO-BLOCKED"]
    box = section(panel(sup), "blocked_picks")
    assert 'data-count="1"' in box
    assert re.search(r'<a href="/orders/SO-BLOCKED">SO-BLOCKED · LATE: A-02 holds LATE without '
                     r'a lot\. Cycle count A-02 first', box)
    assert "SO-FINE" not in box and "SO-LATER" not in box and "SO-GONE" not in box

    picking.pick(db.session, order_number="SO-LATER", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY)  # now its next task is the blocked LATE line
    assert [c.order for c in dashboard.blocked_picks(db.session).cases] == \
        ["SO-BLOCKED", "SO-LATER"]
    inventory.cycle_count(db.session, location="A-02", sku="LATE", lot="LX", qty=3,
                          actor=NOBODY)  # counting it in with a lot unblocks both
    assert dashboard.blocked_picks(db.session).count == 0


def test_short_picks_count_lines_of_orders_still_in_progress(sup):
    order("SO-S1", SCARCE=4)
    order("SO-S2", SCARCE=2, PLAIN=1)
    order("SO-S3", SCARCE=1)
    for number in ("SO-S1", "SO-S2", "SO-S3"):
        picking.short_line(db.session, order_number=number, sku="SCARCE", actor=NOBODY)
    orders_domain.cancel_order(db.session, orders_domain.get_order(db.session, "SO-S3"))
    db.session.commit()

    html = panel(sup)
    assert counts(html)["short_picks"] == 2
    box = section(html, "short_picks")
    assert '<a href="/orders/SO-S1">SO-S1 · SCARCE: 4 of 4 short</a>' in box
    assert '<a href="/orders/SO-S2">SO-S2 · SCARCE: 2 of 2 short</a>' in box
    assert "SO-S3" not in box


def test_lot_mismatches_at_pack_are_counted_and_linked(sup):
    settings.set_setting(db.session, "require_lot_serial_at_pack", True, None)
    db.session.commit()
    put("A-01", "LOT-1", 5, lot="L1")
    order("SO-M", LOT_1=2)
    picking.pick(db.session, order_number="SO-M", location="A-01", sku="LOT-1", qty=2,
                 actor=NOBODY)
    packing.pack(db.session, order_number="SO-M", sku="LOT-1", lot="L1", actor=AT["ST-1"])
    packing.pack(db.session, order_number="SO-M", sku="LOT-1", lot="L9", actor=AT["ST-1"])

    html = panel(sup)
    got = counts(html)
    assert got["lot_mismatches"] == 1
    assert got["needs_count"] == 1  # the location it was picked from is now in doubt
    box = section(html, "lot_mismatches")
    assert '<a href="/orders/SO-M">SO-M · LOT-1: recorded lot L9, picked L1</a>' in box
    assert "recorded lot L1," not in box  # the matching pack line is no exception


def test_held_lots_link_to_the_lot_screen_with_the_number_encoded(sup):
    put("A-01", "LOT-1", 5, lot="H1")
    put("B-01", "LOT-1", 1, lot="R&D/2")
    put("B-02", "LOT-1", 1, lot="FREE")
    lots.hold(db.session, number="H1", reason="Recall 42", actor=inventory.Actor(None))
    lots.hold(db.session, number="R&D/2", reason="QA check", actor=inventory.Actor(None))
    lots.hold(db.session, number="FREE", reason="Oops", actor=inventory.Actor(None))
    lots.release(db.session, number="FREE", actor=inventory.Actor(None))

    html = panel(sup)
    assert counts(html)["held_lots"] == 2
    box = section(html, "held_lots")
    assert '<a href="/lots?lot=H1">H1 · LOT-1: Recall 42</a>' in box
    assert '<a href="/lots?lot=R%26D%2F2">R&amp;D/2 · LOT-1: QA check</a>' in box
    assert "FREE" not in box


def test_a_long_list_shows_the_first_few_and_says_how_many_more(sup):
    for n in range(7):
        make_item(f"HELD-{n}", require_lot=True)
        put("B-02", f"HELD-{n}", 1, lot=f"HL{n}")
        lots.hold(db.session, number=f"HL{n}", reason="Recall", actor=inventory.Actor(None))
    box = section(panel(sup), "held_lots")
    assert 'data-count="7"' in box
    assert box.count("<li>") == dashboard.SHOWN == 5
    assert "and 2 more" in box


# ---------------------------------------------------------------- polling


def test_the_exceptions_region_polls_its_own_fragment(sup):
    page = sup.get("/dashboard").get_data(as_text=True)
    region = re.search(r'<section id="dashboard-exceptions"[^>]*>', page).group(0)
    for attribute in ('hx-get="/dashboard/panel"', 'hx-trigger="every 15s"',
                      'hx-target="this"', 'hx-swap="outerHTML"'):
        assert attribute in region

    response = sup.get("/dashboard/panel", htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith(region)  # the same element, so polling goes on
    assert "HX-Request" in response.headers.get("Vary", "")


def test_the_fragment_shows_what_changed_since_the_page_loaded(sup):
    put("A-01", "LOT-1", 5, lot="H1")
    assert counts(sup.get("/dashboard").get_data(as_text=True))["held_lots"] == 0
    lots.hold(db.session, number="H1", reason="Recall 42", actor=inventory.Actor(None))
    assert counts(panel(sup))["held_lots"] == 1


def test_a_plain_visit_to_the_fragment_goes_to_the_dashboard(sup):
    response = sup.get("/dashboard/panel")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")


# ---------------------------------------------------------------- roles and nav


def test_packer_gets_403_on_the_dashboard_and_its_fragment(as_role, wh):
    packer = as_role("packer")
    assert packer.get("/dashboard").status_code == 403
    assert packer.get("/dashboard/panel", htmx=True).status_code == 403
    assert "Dashboard" not in packer.get("/").get_data(as_text=True)


def test_supervisor_nav_leads_with_ledger_and_dashboard(sup):
    html = sup.get("/").get_data(as_text=True)
    nav = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    labels = re.findall(r">([^<>]+)</a>", nav)
    first_supervisor = labels.index("Ledger")
    assert labels[first_supervisor:first_supervisor + 2] == ["Ledger", "Dashboard"]
    assert labels[first_supervisor - 1] == "Location lookup"
    assert 'href="/ledger"' in nav and 'href="/dashboard"' in nav
