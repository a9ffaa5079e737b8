"""The confirm of a scan screen: a submission carrying every step is walked like the scans.

A refusal must read exactly as it does when the same values are scanned one at a time, and
change nothing; the confirm writes its change once (its write statements are the guard)."""

import re
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from lotline import locations as locations_domain
from lotline.extensions import db
from lotline.models import IdempotencyRecord, Inventory, Item, LedgerEntry
from tests.conftest import make_item, make_order
from tests.test_flows import Scanner, qty, warehouse  # noqa: F401 - fixture used by name


def one_shot(browser, url, **fields):
    fields.setdefault("idem", uuid.uuid4().hex)
    response = browser.post(url, fields, htmx=True)
    return response, response.get_data(as_text=True)


@contextmanager
def statements():
    """Every statement sent to the database meanwhile (engine events see them all)."""
    sent = []

    def count(conn, cursor, statement, params, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def refusal(html):
    code = re.search(r'data-error-code="([^"]+)"', html)
    step = re.search(r'data-step="([^"]+)"', html)
    message = re.search(r'data-testid="flow-error">\s*<strong>([^<]+)</strong>', html)
    return (code and code.group(1), step and step.group(1), message and message.group(1))


REFUSED = [
    # (screen, values scanned in order, the step refused), each refused by the domain rules
    ("/put", [("location", "A-01"), ("sku", "LOT-1"), ("lot", "L2"), ("qty", "1")],
     "location"),
    ("/pull", [("location", "A-01"), ("sku", "LOT-1"), ("lot", "L9"), ("qty", "1")], "lot"),
    ("/pull", [("location", "A-01"), ("sku", "LOT-1"), ("lot", "L1"), ("qty", "11")], "qty"),
    ("/move", [("from_location", "A-01"), ("sku", "LOT-1"), ("lot", "L1"), ("qty", "2"),
               ("to_location", "A-01")], "to_location"),
    ("/put", [("location", "Z-99"), ("sku", "LOT-1"), ("lot", "L1"), ("qty", "1")], "location"),
]


@pytest.mark.parametrize("url, steps, refused_at", REFUSED)
def test_a_refused_confirm_reads_as_the_scans_would_and_changes_nothing(
        as_role, warehouse, url, steps, refused_at):  # noqa: F811
    browser = as_role("packer")
    ledger_before = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    stepwise = Scanner(browser, url)
    for _, value in steps:
        stepwise.scan(value)
        if stepwise.error_code:
            break
    response, html = one_shot(browser, url, **dict(steps))
    assert response.status_code == 422
    assert refusal(html) == refusal(stepwise.html)
    assert refusal(html)[0] is not None and refusal(html)[1] == refused_at
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == ledger_before
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    assert qty("A-01") == 10


def test_a_confirm_writes_its_change_once(app, as_role, warehouse):  # noqa: F811
    browser = as_role("packer")
    with statements() as sent:
        response, html = one_shot(browser, "/put", location="A-01", sku="LOT-1", lot="L1",
                                  qty="2")
    assert response.status_code == 200 and "A-01 · LOT-1 · L1: 10 → 12" in html
    writes = [s.split()[0] + " " + s.split()[2 if s.startswith(("INSERT", "DELETE")) else 1]
              for s in sent if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    # the inventory row, its ledger row, the idempotency key
    assert writes == ["UPDATE inventory", "INSERT ledger_entry", "INSERT idempotency_record"]


@pytest.mark.parametrize("url, fields, locked", [
    ("/put", {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "2"}, ["A-01"]),
    ("/move", {"from_location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "2",
               "to_location": "A-02"}, ["A-01", "A-02"]),
])
def test_a_confirm_locks_its_locations_first_and_reads_each_stock_row_once(
        app, as_role, warehouse, url, fields, locked):  # noqa: F811
    """On PostgreSQL a confirm's unit of work takes its locks before its steps read
    anything: each location is read with FOR UPDATE, in code order, and not read again, and
    each stock row it changes is read once (the steps' read is the one the change uses). On
    SQLite the walk only reads, in a read transaction; the change's own transaction takes
    the write lock before it reads the locations, and reads each stock row once."""
    browser = as_role("packer")
    with statements() as sent:
        response, html = one_shot(browser, url, **fields)
    assert response.status_code == 200 and 'data-feedback="success"' in html
    if db.engine.dialect.name == "postgresql":
        start = next(n for n, s in enumerate(sent) if "FROM location" in s)
        unit = sent[start:]
        location_reads = [s for s in unit if "FROM location" in s]
        assert all("FOR UPDATE" in s for s in location_reads)
        assert len(location_reads) == len(locked)
        assert all("FOR UPDATE" in s for s in unit[:len(locked)])  # before anything else
    else:
        write = sent.index("BEGIN IMMEDIATE")
        assert not [s for s in sent[:write] if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
        walked = [s for s in sent[:write] if "FROM inventory" in s]
        assert len(walked) == len(locked)  # the walk read the stock before the write lock
        unit = sent[write + 1:]
        assert all("FROM location" in s for s in unit[:len(locked)])
    stock_reads = [s for s in unit if s.startswith("SELECT") and "FROM inventory" in s]
    assert len(stock_reads) == len(locked)
    assert [qty(code) for code in locked] == ([12] if url == "/put" else [8, 2])


def test_a_resent_confirm_is_answered_by_its_first_result(as_role, warehouse):  # noqa: F811
    browser = as_role("packer")
    key = uuid.uuid4().hex
    first = one_shot(browser, "/pull", location="A-01", sku="LOT-1", lot="L1", qty="10",
                     idem=key)[1]
    again = one_shot(browser, "/pull", location="A-01", sku="LOT-1", lot="L1", qty="10",
                     idem=key)
    # The stock is gone now, so checked again it would be refused; it is the same scan, so
    # it says what it did the first time.
    assert again[0].status_code == 200
    assert "10 → 0" in first and "10 → 0" in again[1] and "already done" in again[1]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.type == "pull")) == 1


def test_a_copy_walked_after_its_twin_applied_is_answered_by_the_twin(
        as_role, warehouse, monkeypatch):  # noqa: F811
    """Copies of one submission sent at once (a tablet re-sending): a copy walked after its
    twin took the stock is refused by its walk, then finds the twin's record and is answered
    with the twin's result, not refused (the soak with SIGKILLs found it on PostgreSQL: the
    pick screen refused two of three copies). A confirm looks for its key once, after the
    refusal, not before its walk."""
    import blueprints.scanflow as scanflow

    browser = as_role("packer")
    key = uuid.uuid4().hex
    first = one_shot(browser, "/pull", location="A-01", sku="LOT-1", lot="L1", qty="10",
                     idem=key)[1]
    looks = []

    def looked_up(session, actor, k):
        looks.append(k)
        return real(session, actor, k)

    real = scanflow.already_done
    monkeypatch.setattr(scanflow, "already_done", looked_up)
    with statements() as sent:
        response, html = one_shot(browser, "/pull", location="A-01", sku="LOT-1", lot="L1",
                                  qty="10", idem=key)
    assert looks == [key]
    stock = next(n for n, s in enumerate(sent) if "FROM inventory" in s)
    asked = next(n for n, s in enumerate(sent) if "FROM idempotency_record" in s)
    assert stock < asked  # walked (and refused) first, then asked
    assert "10 → 0" in first
    assert response.status_code == 200 and "10 → 0" in html and "already done" in html
    assert 'data-error-code' not in html
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.type == "pull")) == 1


@pytest.mark.parametrize("url, fields, done", [
    ("/put", {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "2"}, "10 → 12"),
    ("/move", {"from_location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "2",
               "to_location": "A-02"}, "A-02 · LOT-1 · L1: 0 → 2"),
])
def test_a_resent_confirm_that_would_pass_again_is_applied_once(
        as_role, warehouse, monkeypatch, url, fields, done):  # noqa: F811
    """A copy of a confirm that its walk would let through again (the stock is still there)
    writes its change, fails to write its key's record (the first one holds it), is rolled
    back as a whole and answered with the first result."""
    import blueprints.scanflow as scanflow

    browser = as_role("packer")
    key = uuid.uuid4().hex
    first = one_shot(browser, url, idem=key, **fields)[1]

    def not_asked(*args):
        raise AssertionError("a confirm that passes is not looked up first")

    monkeypatch.setattr(scanflow, "already_done", not_asked)
    with statements() as sent:
        response, html = one_shot(browser, url, idem=key, **fields)
    writes = [s.split()[0] + " " + s.split()[2 if s.startswith("INSERT") else 1]
              for s in sent if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes[0] == "UPDATE inventory" and writes[-1] == "INSERT idempotency_record"
    assert done in first
    assert response.status_code == 200 and done in html and "already done" in html
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == \
        1 + (1 if url == "/put" else 2)  # the seed, and the first confirm's rows
    assert qty("A-01") == (12 if url == "/put" else 8)


@pytest.mark.parametrize("url, fields", [
    ("/put", {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "1"}),
    ("/pull", {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "3"}),
    ("/count", {"location": "A-02", "sku": "PLAIN", "qty": "1"}),
])
def test_cancel_with_every_step_filled_changes_nothing(as_role, warehouse, url, fields):  # noqa: F811
    """Cancel is a button of the same form: it posts every accepted step and the quantity
    already filled in. It must start over, not confirm (found in review: it committed)."""
    browser = as_role("packer")
    response, html = one_shot(browser, url, cmd="CMD:CANCEL", **fields)
    assert response.status_code == 200 and 'data-step="location"' in html
    assert 'data-feedback="success"' not in html
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.type != "put")) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1  # the seed
    assert qty("A-01") == 10


def picked_order(recording: bool) -> None:
    """Order SO-1: 2 × LOT-1 (lot-tracked), both picked from lot L5; Require Lot/Serial at
    Pack set to ``recording``."""
    from tests.test_packing import pick_all, setting

    for code in ("A-01", "S-01"):
        locations_domain.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    db.session.commit()
    setting(recording)
    make_order("SO-1", LOT_1=2)
    pick_all("SO-1", lot="L5")


def test_a_carried_lot_for_an_item_that_records_none_at_pack_is_dropped(as_role, app):
    """With Require Lot/Serial at Pack off, the walk never asks for a lot, so a lot a GS1
    label filled in must not be recorded by the confirm either (found in review)."""
    from lotline import settings
    from lotline.models import PackLine

    picked_order(recording=False)
    assert settings.get_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK) is False
    response, html = one_shot(as_role("packer"), "/pack", order="SO-1", sku="LOT-1",
                              lot="L9", qty="1")
    assert response.status_code == 200 and "Packed 1 × LOT-1" in html
    db.session.rollback()
    lines = list(db.session.scalars(select(PackLine)))
    assert [(pl.qty, pl.recorded_lot, pl.lot_mismatch) for pl in lines] == [(1, None, False)]


def test_a_carried_lot_for_an_item_that_tracks_none_is_dropped_at_put(as_role, warehouse):  # noqa: F811
    """Put's commit refuses a lot for an item that tracks none; the steps are then walked,
    the walk never asks for that lot, and the put goes through without it."""
    response, html = one_shot(as_role("packer"), "/put", location="A-02", sku="PLAIN",
                              lot="L9", qty="2")
    assert response.status_code == 200 and "A-02 · PLAIN: 0 → 2" in html
    db.session.rollback()
    row = db.session.scalar(select(Inventory).join(Inventory.item).where(Item.sku == "PLAIN"))
    assert (row.qty, row.lot_id) == (2, None)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.type == "put", LedgerEntry.lot_id.is_(None))) == 1


def test_a_pack_confirm_is_one_transaction_that_reads_the_order_once(as_role, app):
    """A pack line is one unit of work: the lock, the order read with its lines and items
    (once), then the carton (the first pack opens it), the pack line, the line's packed
    count, the order's status (it changes on the first pack) and, last, the key. On
    PostgreSQL the order is locked by a statement of its own before anything of it is read
    (a read joined to the locking statement would see the lines as they were before the
    pack it waited for), and the steps use that read. On SQLite the pack's transaction
    takes the write lock before it reads (the walk read in a read transaction before it)."""
    from lotline.models import Order, PackLine

    picked_order(recording=True)
    browser = as_role("packer")
    with statements() as sent:
        response, html = one_shot(browser, "/pack", order="SO-1", sku="LOT-1", lot="L5",
                                  qty="1")
    assert response.status_code == 200 and "Packed 1 × LOT-1 · lot L5" in html
    start = sent.index("BEGIN IMMEDIATE") + 1 if db.engine.dialect.name == "sqlite" else \
        next(n for n, s in enumerate(sent) if "customer_order" in s)
    end = next(n for n, s in enumerate(sent) if s.startswith("INSERT INTO idempotency_record"))
    unit = sent[start:end + 1]
    in_txn = [s.split()[0] + " " + s.split()[2 if s.startswith(("INSERT", "DELETE")) else 1]
              if not s.startswith("SELECT") else "SELECT" for s in unit]
    writes = [s for s in in_txn if not s.startswith(("SELECT", "BEGIN"))]
    assert sorted(writes) == ["INSERT carton", "INSERT idempotency_record", "INSERT pack_line",
                              "UPDATE customer_order", "UPDATE order_line"]
    assert writes[-1] == "INSERT idempotency_record"  # the key last
    read = [n for n, s in enumerate(unit) if s.startswith("SELECT") and
            "FROM customer_order LEFT OUTER JOIN order_line" in s]
    if db.engine.dialect.name == "postgresql":
        locks = [n for n, s in enumerate(unit) if "customer_order" in s and "FOR UPDATE" in s]
        assert locks == [0] and "JOIN" not in unit[0]  # the lock before any read
        assert len(read) == 1
    else:  # the walk read it before, in a read transaction; the pack reads it once more
        assert read == [0]  # under the write lock, first
        assert any("FROM customer_order" in s for s in sent[:start - 1])  # the walk's read
        panel = sent[end + 1:]  # the screen, read after the commit in a read of its own
        assert panel[0] == "BEGIN" and any("FROM customer_order" in s for s in panel)
    db.session.rollback()
    assert db.session.scalar(select(Order.status).where(Order.number == "SO-1")) == "packing"
    assert [(p.qty, p.recorded_lot) for p in db.session.scalars(select(PackLine))] == [(1, "L5")]
    # the second unit completes the order: its status is written again, once
    response, html = one_shot(browser, "/pack", order="SO-1", sku="LOT-1", lot="L5", qty="1")
    assert response.status_code == 200 and "completely packed" in html
    db.session.rollback()
    assert db.session.scalar(select(Order.status).where(Order.number == "SO-1")) == "packed"
