"""The pack screen offline: what the page carries for the device's two checks, and
/pack/replay, which reads a queued scan strictly, keeps accepting the previous release's
queue, reads a queued GS1 label as the screen reads one, and applies every rule through
:func:`lotline.packing.pack`."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest

from lotline import locations
from lotline.extensions import db
from lotline.items import scans_naming
from lotline.models import Item, PackLine
from tests.conftest import make_item, make_order
from tests.test_packing import count, pack_lines, pick_all, setting

GTIN = "09876543210982"  # LOT-G's; check digit 2


@pytest.fixture
def world(app, as_role):
    for code in ("A-01", "S-01"):
        locations.create_location(db.session, code)
    make_item("LOT-G", require_lot=True, gtin=GTIN)
    make_item("SER-G", require_serial=True)
    make_item("PLAIN-G")
    make_item("ELSEWHERE")
    setting(True)
    make_order("SO-OFF", LOT_G=3, SER_G=1, PLAIN_G=2)
    pick_all("SO-OFF", lot="GL-1")
    return as_role("packer")


def replay(browser, body):
    return browser.client.post("/pack/replay", json=body,
                               headers={"X-CSRFToken": browser.token})


# ---------------------------------------------------------------- what the page carries


def offline_data(browser, url="/pack?order=SO-OFF"):
    page = browser.client.get(url).get_data(as_text=True)
    found = re.search(r"data-offline='([^']*)'", page)
    return (json.loads(html.unescape(found.group(1))) if found else None), page


def test_the_pack_page_carries_the_orders_lines_for_the_device(world):
    data, page = offline_data(world)
    lines = {line["sku"]: line for line in data["lines"]}
    assert data["order"] == "SO-OFF"
    assert lines["LOT-G"]["codes"] == ["LOT-G", GTIN[1:], GTIN]  # every scan naming it
    assert (lines["LOT-G"]["left"], lines["LOT-G"]["then"]) == (3, ["lot"])
    assert (lines["SER-G"]["left"], lines["SER-G"]["then"]) == (1, ["serial"])
    assert lines["PLAIN-G"]["then"] == []
    # the refusal for one unit more than are left is the domain's own
    assert lines["SER-G"]["full"] == {"code": "over_pack", "message": (
        "Order SO-OFF needs 1 more of SER-G; this would pack 2. Put the extra aside.")}
    assert re.compile(data["gs1"]).search("]C101" + GTIN)  # the server's own pattern
    # the offline steps' markup: the online step's own, in a template
    template = page[page.index('<template id="offline-pack">'):page.index("</template>")]
    for name, label in (("sku", "Item"), ("lot", "Lot"), ("serial", "Serial")):
        assert f'data-part="step-{name}"' in template
        assert f'<label for="scan-{name}">{label}</label>' in template
    assert 'data-part="queued"' in template and 'data-part="refused"' in template


def test_no_order_on_screen_carries_nothing_to_queue_against(world):
    data, page = offline_data(world, "/pack")
    assert data is None and 'id="offline-pack"' not in page


def test_the_page_follows_the_setting_and_what_is_packed(world):
    assert replay(world, {"order": "SO-OFF", "sku": "PLAIN-G", "qty": 2,
                          "key": "offline-page-1"}).json["ok"]
    setting(False)
    data, _ = offline_data(world)
    lines = {line["sku"]: line for line in data["lines"]}
    assert lines["PLAIN-G"]["left"] == 0 and lines["PLAIN-G"]["full"]["code"] == "over_pack"
    assert lines["LOT-G"]["then"] == [] and lines["SER-G"]["then"] == []


def test_scans_naming_an_item_are_those_find_by_reads():
    assert scans_naming("A", None) == ["A"]
    assert scans_naming("A", "00012345678905") == ["A", "012345678905", "0012345678905",
                                                    "00012345678905"]
    assert scans_naming("B", "00000012345670") == ["B", "12345670", "000012345670",
                                                    "0000012345670", "00000012345670"]


# ---------------------------------------------------------------- the previous release's queue


@pytest.mark.parametrize("body", [
    # exactly as the previous release's lotline.js sent them (payload(): every field)
    {"order": "SO-OFF", "sku": "LOT-G", "qty": 1, "lot": "GL-1", "serial": None,
     "expiry": None, "key": "3f0c9a1e-0000-4000-8000-000000000001"},
    {"order": "SO-OFF", "sku": "SER-G", "qty": 1, "lot": None, "serial": "SN-9",
     "expiry": None, "key": "3f0c9a1e-0000-4000-8000-000000000002"},
    {"order": "SO-OFF", "sku": "LOT-G", "qty": 2, "lot": "GL-1", "serial": None,
     "expiry": "2030-12-31", "key": "3f0c9a1e-0000-4000-8000-000000000003"},
    # its GS1 label as it read it offline (the GTIN's item, the lot, the label's expiry)
    {"order": "SO-OFF", "sku": "PLAIN-G", "qty": 1, "lot": None, "serial": None,
     "expiry": None, "key": "3f0c9a1e-0000-4000-8000-000000000004"},
    # the soak's replay (bench/soak.py): some fields left out
    {"order": "SO-OFF", "sku": "PLAIN-G", "qty": 2, "lot": None, "key": "soak-1-abc"},
], ids=["lot", "serial", "expiry", "plain", "fields-left-out"])
def test_the_previous_releases_queued_body_is_accepted_and_packs_once(world, body):
    first, again = replay(world, body), replay(world, body)
    assert first.status_code == 200 and first.json["ok"], first.json
    assert not first.json["replayed"] and again.json["replayed"]
    assert count(PackLine) == 1
    line = pack_lines()[0]
    assert (line.qty, line.recorded_lot, line.serial) == (
        body["qty"], body.get("lot"), body.get("serial"))


def test_a_queued_scan_another_user_already_sent_is_already_done(world, as_role):
    """Issue 17: a key is one submission whoever sends it. Another packer's replay of it
    packs nothing and is told it was already done, without the first answer's messages."""
    body = {"order": "SO-OFF", "sku": "PLAIN-G", "qty": 2, "key": "offline-shared-1"}
    first = replay(world, body)
    assert first.json["ok"] and not first.json["replayed"]
    other = replay(as_role("packer", "packer-two"), body)
    assert other.status_code == 200
    assert other.json["ok"] and other.json["replayed"]
    assert other.json["code"] == "already_submitted"
    assert len(other.json["messages"]) == 1 and other.json["messages"][0].startswith(
        "Already done") and not set(first.json["messages"]) & set(other.json["messages"])
    assert count(PackLine) == 1 and pack_lines()[0].qty == 2


# ---------------------------------------------------------------- wrong types: 422, no coercion

GOOD = {"order": "SO-OFF", "sku": "LOT-G", "qty": 1, "lot": "GL-1", "serial": None,
        "expiry": None, "key": "offline-strict"}


@pytest.mark.parametrize("change, field", [
    ({"lot": ["GL-1"]}, "lot"),
    ({"lot": True}, "lot"),
    ({"lot": 7}, "lot"),
    ({"qty": 0}, "qty"),
    ({"qty": -1}, "qty"),
    ({"qty": "2"}, "qty"),
    ({"qty": True}, "qty"),
    ({"qty": 1.0}, "qty"),
    ({"serial": {"n": 1}}, "serial"),
    ({"expiry": 20301231}, "expiry"),
    ({"expiry": "31/12/2030"}, "expiry"),
    ({"order": 5004}, "order"),
    ({"order": None}, "order"),
    ({"sku": None}, "sku"),
    ({"sku": ["LOT-G"]}, "sku"),
    ({"key": ""}, "key"),
    ({"key": 12345678}, "key"),
    ({"scan": 1}, "scan"),
    ({"evil": 1}, "evil"),
])
def test_a_field_of_the_wrong_type_is_refused_not_coerced(world, change, field):
    response = replay(world, {**GOOD, **change})
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error" and response.json["field"] == field
    assert field in response.json["message"]
    assert count(PackLine) == 0


@pytest.mark.parametrize("body", [None, [], ["SO-OFF"], "SO-OFF"])
def test_a_body_that_is_no_object_is_refused(world, body):
    response = world.client.post("/pack/replay", data=json.dumps(body),
                                 content_type="application/json",
                                 headers={"X-CSRFToken": world.token})
    assert response.status_code == 422 and response.json["code"] == "validation_error"


def test_every_rule_applies_on_replay(world):
    refusals = {
        "not_on_order": {"sku": "ELSEWHERE"},
        "lot_required": {"lot": None},
        "over_pack": {"qty": 4},
        "serial_required": {"sku": "SER-G", "lot": None},
        "unknown_order": {"order": "SO-NONE"},
    }
    for code, change in refusals.items():
        response = replay(world, {**GOOD, **change, "key": f"offline-{code}"})
        assert response.status_code in (404, 422) and response.json["code"] == code, code
    assert count(PackLine) == 0


# ---------------------------------------------------------------- a label queued unchecked


def test_a_queued_gs1_label_is_read_by_the_server(world):
    label = f"]C101{GTIN}10GL-1\x1d17301231"
    response = replay(world, {"order": "SO-OFF", "sku": None, "qty": None, "scan": label,
                              "key": "offline-label-1"})
    assert response.json["ok"], response.json
    assert response.json["messages"][0].startswith("Packed 1 × LOT-G · lot GL-1")
    line = pack_lines()[0]
    assert (line.qty, line.recorded_lot) == (1, "GL-1")


def test_a_queued_digital_link_with_its_count_is_read_by_the_server(world):
    link = f"https://id.gs1.org/01/{GTIN}/10/GL-1?30=2"
    response = replay(world, {"order": "SO-OFF", "sku": None, "scan": link,
                              "key": "offline-link-1"})
    assert response.json["ok"], response.json
    assert (pack_lines()[0].qty, pack_lines()[0].recorded_lot) == (2, "GL-1")


def test_a_label_scanned_after_the_item_fills_the_lot_and_must_be_that_items(world):
    mine = replay(world, {"order": "SO-OFF", "sku": "LOT-G", "scan": f"(01){GTIN}(10)GL-1",
                          "key": "offline-label-2"})
    assert mine.json["ok"] and pack_lines()[0].recorded_lot == "GL-1"
    other = replay(world, {"order": "SO-OFF", "sku": "PLAIN-G", "scan": f"(01){GTIN}(10)GL-1",
                           "key": "offline-label-3"})
    assert other.status_code == 422 and other.json["code"] == "gtin_mismatch"
    unreadable = replay(world, {"order": "SO-OFF", "sku": None, "scan": "]C101" + GTIN[:-1] + "3",
                                "key": "offline-label-4"})
    assert unreadable.status_code == 422 and "wrong check digit" in unreadable.json["message"]
    assert count(PackLine) == 1


def test_a_labels_expiry_is_judged_on_replay(world):
    db.session.execute(Item.__table__.update().where(Item.sku == "LOT-G")
                       .values(min_shelf_life_days=30))
    db.session.commit()
    soon = (dt.date.today() + dt.timedelta(days=3)).strftime("%y%m%d")
    response = replay(world, {"order": "SO-OFF", "sku": None, "key": "offline-label-5",
                              "scan": f"(01){GTIN}(17){soon}(10)NEW-LOT"})
    assert response.status_code == 422 and response.json["code"] == "shelf_life_too_short"
    assert count(PackLine) == 0
