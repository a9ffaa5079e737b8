"""Property-based hostile input: the barcode/GS1 parser, the input cleaners and the scan
screens take any text without crashing, and refuse what is invalid with a clear error."""

import datetime as dt
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lotline import gs1, inventory, items, locations
from lotline.errors import DomainError, ValidationError
from lotline.extensions import db
from lotline.gtin import check_digit, normalize_gtin
from tests.conftest import make_item

ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
SCANNER_TEXT = st.one_of(
    ANY_TEXT,
    st.text(alphabet=string.printable + "\x1d", max_size=60),
    st.from_regex(r"\](C1|d2|Q3)[0-9\x1d()A-Z]{0,40}", fullmatch=True),
    st.from_regex(r"\((01|10|17|21|30|37)\)[0-9A-Z]{0,20}", fullmatch=True),
)


@given(SCANNER_TEXT)
@settings(max_examples=400, deadline=None)
def test_gs1_parse_never_crashes(raw):
    try:
        result = gs1.parse(raw)
    except ValidationError as exc:
        assert exc.message  # a clear message, never an exception of another kind
    else:
        assert result is None or isinstance(result, gs1.Gs1Scan)


def gtins():
    return st.from_regex(r"[0-9]{13}", fullmatch=True).map(lambda b: b + str(check_digit(b)))


@given(gtin=gtins(), lot=st.from_regex(r"[A-Z0-9-]{1,20}", fullmatch=True),
       expiry=st.dates(dt.date(2000, 1, 1), dt.date(2049, 12, 31)),
       serial=st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True),
       qty=st.integers(1, 99999999), prefix=st.sampled_from(["", "]C1", "]d2"]))
@settings(max_examples=200, deadline=None)
def test_gs1_round_trip(gtin, lot, expiry, serial, qty, prefix):
    """Any well-formed label (fixed-length fields first, FNC1 after variable ones) reads back."""
    raw = f"{prefix}01{gtin}17{expiry:%y%m%d}10{lot}\x1d21{serial}\x1d30{qty}"
    assert gs1.parse(raw) == gs1.Gs1Scan(gtin, lot, expiry, serial, qty)


@given(gtin=gtins(), digit=st.integers(0, 9))
@settings(max_examples=100, deadline=None)
def test_a_wrong_check_digit_is_always_refused(gtin, digit):
    if int(gtin[-1]) == digit:
        return
    with pytest.raises(ValidationError):
        gs1.parse(f"]C101{gtin[:-1]}{digit}")
    with pytest.raises(ValidationError):
        normalize_gtin(gtin[:-1] + str(digit))


@pytest.mark.parametrize("clean", [inventory.clean_qty, inventory.clean_lot, items.clean_sku,
                                   locations.clean_code, normalize_gtin])
@given(value=st.one_of(ANY_TEXT, st.integers(), st.none(), st.booleans(), st.floats()))
@example(value="CMD:")  # found by this test: a command's text was refused as a DomainError
@settings(max_examples=150, deadline=None)
def test_cleaners_accept_or_refuse_clearly(clean, value):
    try:
        clean(value)
    except ValidationError as exc:  # a command's text (CMD:…) is refused with its own code
        assert exc.message and exc.code in ("validation_error", "reserved_prefix")
        assert exc.status == 422


@pytest.fixture
def stocked(app):
    locations.create_location(db.session, "A-01")
    make_item("LOT-1", require_lot=True)
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="L1", qty=5,
                  actor=inventory.Actor(None))


@pytest.mark.parametrize("path, fields", [
    ("/put", ("location", "sku", "lot", "qty")),
    ("/pull", ("location", "sku", "lot", "qty")),
    ("/move", ("from_location", "sku", "lot", "qty", "to_location")),
    ("/count", ("location", "sku", "qty", "lot")),
    ("/pack", ("order", "sku", "lot", "serial", "qty")),
    ("/lookup", ("location",)),
])
@given(data=st.data())
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_scan_screens_take_any_input_without_a_server_error(as_role, stocked, path, fields,
                                                           data):
    browser = _browser(as_role)
    form = {name: data.draw(st.one_of(st.just("A-01"), st.just("LOT-1"), st.just("L1"),
                                      SCANNER_TEXT), label=name) for name in fields}
    before = inventory.ledger_mismatches(db.session)
    response = browser.post(path, form, htmx=True)
    assert response.status_code in (200, 404, 409, 422), response.status_code
    body = response.get_data(as_text=True)
    if response.status_code != 200:
        assert "data-error-code" in body  # a refusal always says what is wrong
    assert inventory.ledger_mismatches(db.session) == before == []
    db.session.rollback()


_BROWSERS = {}


def _browser(as_role):
    """One signed-in packer per test database (hypothesis runs many examples per test)."""
    key = id(db.session.get_bind())
    if key not in _BROWSERS:
        _BROWSERS.clear()
        _BROWSERS[key] = as_role("packer", "fuzzer")
    return _BROWSERS[key]


def test_domain_refusals_are_domain_errors(stocked):
    """The transactions refuse nonsense with DomainError (a stable code), never a crash."""
    for kwargs in ({"location": "\x1d", "sku": "LOT-1", "lot": "L1", "qty": 1},
                   {"location": "A-01", "sku": "]C1", "lot": "L1", "qty": 1},
                   {"location": "A-01", "sku": "LOT-1", "lot": "L 1", "qty": 1},
                   {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "1e3"}):
        with pytest.raises(DomainError):
            inventory.put(db.session, actor=inventory.Actor(None), **kwargs)
