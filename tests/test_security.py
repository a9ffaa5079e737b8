"""Security by default, checked over the whole app rather than route by route.

The developers' standard (PRODUCT.md): CSRF on every form and htmx request, a role check on
every route, hashed passwords and API tokens, secure cookie flags, a CSP without inline
script, and bad input refused without changing anything. The routes are enumerated from
``app.url_map``, so a new screen or API operation is covered (or the test says what it needs)
without anyone remembering to add it here.

Already covered elsewhere, so not repeated: the basic throttling lock and its expiry, the
session cookie flags at sign-in and the revoked API token (test_auth.py, test_api_items.py).
"""

from __future__ import annotations

import ast
import inspect
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app import create_app
from lotline import inventory
from lotline import locations as locations_domain
from lotline import orders as orders_domain
from lotline import settings as settings_domain
from lotline import users as users_domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import ROLES, ApiToken, Inventory, Item, Location, LoginThrottle, Order, User
from tests.conftest import PASSWORD, Browser, csrf_from, make_item, make_user

ROOT = Path(__file__).resolve().parent.parent
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Endpoints anyone may use without signing in, each with the reason. Every other endpoint
# must carry a role check the tests below can find; an entry here that has one is stale.
PUBLIC = {
    "auth.login": "the sign-in page itself",
    "static": "stylesheet, scripts, icons and the web app manifest: the sign-in page and the "
              "offline shell load them before anyone is signed in",
    "pwa.service_worker": "the browser fetches the service worker on its own, without the "
                          "session",
    "pwa.offline": "the offline shell must open on a device whose session is gone",
    "api.openapi": "the API's description; it holds no data",
}

# What a GET needs for the permitted roles to see a plain 200: (query string, htmx).
GET_REQUESTS = {
    "dashboard.panel": ({}, True),  # the htmx polling fragment; a plain visit redirects
    "lots.recall": ({"lot": "L1"}, False),
    "lots.recall_csv": ({"lot": "L1"}, False),
}


# ---------------------------------------------------------------- the world and helpers

@pytest.fixture
def world(app):
    """A little of everything, so every path variable has a real value to name.

    SKU-1 (no lot tracking) 5 at A-1; LOT-1 (tracks lots) lot L1, 3 at A-2; B-1 is empty.
    PO-1 orders 5 of SKU-1; order SO-1 wants 1 of SKU-1; "victim" is a packer account.
    """
    item = make_item("SKU-1")
    make_item("LOT-1", require_lot=True)
    ids = {code: locations_domain.create_location(db.session, code).id
           for code in ("A-1", "A-2", "B-1")}
    db.session.commit()
    actor = inventory.Actor(None, "setup")
    inventory.put(db.session, location="A-1", sku="SKU-1", lot=None, qty=5, actor=actor)
    inventory.put(db.session, location="A-2", sku="LOT-1", lot="L1", qty=3, actor=actor)
    inventory.create_purchase_order(db.session, "PO-1", "Acme", [{"sku": "SKU-1", "qty": 5}])
    orders_domain.create_order(db.session, "SO-1", "Customer", [{"sku": "SKU-1", "qty": 1}])
    db.session.commit()
    victim = make_user("victim", "packer")
    db.session.add(ApiToken(user_id=victim.id, prefix="0f0f0f0f", token_hash="0" * 64))
    db.session.commit()
    values = {
        # by path variable name
        "sku": "SKU-1", "location_id": ids["B-1"], "user_id": victim.id, "number": "SO-1",
        "action": "cancel", "filename": "css/lotline.css", "lot": "L1", "username": "victim",
        "prefix": "0f0f0f0f",
        # by (endpoint, variable) where the name alone is ambiguous
        ("api.get_purchase_order", "number"): "PO-1", ("api.putaway", "number"): "PO-1",
        # the API walk sends empty bodies and expects no change: no token of this prefix
        ("api.revoke_token", "prefix"): "0e0e0e0e",
    }
    found = SimpleNamespace(values=values, location_ids=ids, victim_id=victim.id,
                            item_id=item.id)
    db.session.rollback()  # end the read, so the browsers' writes are not behind it (SQLite)
    return found


class _Client:
    """A test client whose every request runs in an app context of its own, as in
    production. Under the fixture's long-lived app context, requests would share flask.g,
    where Flask-Login keeps the signed-in user and Flask-WTF the CSRF token, so a second
    browser would act as the first one's user."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def open(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.open(*args, buffered=True, **kwargs)

    def get(self, *args, **kwargs):
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args, **kwargs):
        return self.open(*args, method="POST", **kwargs)


def _signed_in(app, role: str) -> Browser:
    """A browser with its own cookie jar, signed in as a new user of ``role``."""
    username = f"walk-{role}"
    make_user(username, role)
    browser = Browser(_Client(app))
    assert browser.login(username).status_code == 302
    return browser


def _anonymous(app) -> Browser:
    """Not signed in, but holding the CSRF token the sign-in page hands out."""
    browser = Browser(_Client(app))
    browser.token = csrf_from(browser.client.get("/login"))
    return browser


def _rules(app, *, api: bool):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint.startswith("api.") == api:
            yield rule


def _url(app, world, rule, method: str, query: dict | None = None) -> str:
    values = {}
    for name in sorted(rule.arguments):
        value = world.values.get((rule.endpoint, name), world.values.get(name))
        if value is None:
            pytest.fail(f"{rule.rule} ({rule.endpoint}): no plausible value for <{name}>; "
                        f"add one to the world fixture in tests/test_security.py")
        values[name] = value
    url = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, without bookkeeping columns (a
    token's last use: any request with it may stamp it)."""
    db.session.rollback()  # see what the requests committed
    out = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if not c.info.get("bookkeeping")]
        rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(row) for row in rows]
    db.session.rollback()
    return out


def _changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# ---------------------------------------------------------------- who may use what

def _layers(view):
    """A view and every function it wraps (functools.wraps keeps ``__wrapped__``)."""
    while view is not None:
        yield view
        view = getattr(view, "__wrapped__", None)


def _blueprint_roles(app, blueprint: str) -> list[tuple[str, ...]]:
    """The roles of each ``require_role`` check that ``role_blueprint`` registered."""
    found = []
    for check in app.before_request_funcs.get(blueprint, []):
        if getattr(check, "__code__", None) and \
                check.__code__.co_qualname == "require_role.<locals>.check":
            found.append(tuple(inspect.getclosurevars(check).nonlocals["roles"]))
    return found


def required_role(app, endpoint: str) -> str | None:
    """The least role that may use ``endpoint`` (both the blueprint's and the view's rule
    must pass); "packer" for sign-in only (flask_login's ``login_required``); None when
    nothing checks."""
    needs = [min(map(ROLES.index, roles))
             for roles in _blueprint_roles(app, endpoint.rpartition(".")[0])]
    for layer in _layers(app.view_functions[endpoint]):
        roles = getattr(layer, "required_roles", None)
        if roles:
            needs.append(min(map(ROLES.index, roles)))
        code = getattr(layer, "__code__", None)
        if code is not None and code.co_qualname.startswith("login_required."):
            needs.append(0)
    return ROLES[max(needs)] if needs else None


def test_every_endpoint_checks_a_role_or_is_listed_public(app):
    unprotected, stale = [], []
    for endpoint in sorted(app.view_functions):
        role = required_role(app, endpoint)
        if endpoint.startswith("api."):
            continue  # bearer tokens; see test_api_role_walk
        if role is None and endpoint not in PUBLIC:
            unprotected.append(endpoint)
        if role is not None and endpoint in PUBLIC:
            stale.append(f"{endpoint} (checks {role})")
    missing = sorted(set(PUBLIC) - set(app.view_functions))
    assert not unprotected, (
        f"no role check found for {unprotected}: use role_blueprint/roles_required/"
        f"login_required, or list the endpoint in PUBLIC with the reason")
    assert not stale and not missing, f"stale PUBLIC entries: {stale + missing}"
    for endpoint in app.view_functions:
        if endpoint.startswith("api.") and endpoint not in PUBLIC:
            assert required_role(app, endpoint), f"{endpoint} has no required_roles"


def test_the_navigation_shows_each_screen_to_the_role_that_may_use_it(app):
    """blueprints/nav.py states the least role of each screen it links; the checks agree."""
    from blueprints.nav import NAV

    disagree = [f"{endpoint}: nav says {role}, checks say {required_role(app, endpoint)}"
                for _label, endpoint, role in NAV
                if endpoint in app.view_functions and required_role(app, endpoint) != role]
    assert not disagree, disagree


def test_role_walk_over_every_page(app, world):
    """Each GET outside the API: anonymous → sign-in; below the least role → 403; at or
    above it → 200. And every answer carries the security headers."""
    browsers = {"anonymous": _anonymous(app)}
    browsers.update({role: _signed_in(app, role) for role in ROLES})
    before = _snapshot()
    failures = []
    for rule in _rules(app, api=False):
        if "GET" not in rule.methods:
            continue
        query, htmx = GET_REQUESTS.get(rule.endpoint, ({}, False))
        url = _url(app, world, rule, "GET", query)
        least = required_role(app, rule.endpoint)
        for who, browser in browsers.items():
            response = browser.get(url, htmx=htmx)
            if least is None:
                expected = 200
            elif who == "anonymous":
                expected = 302
            else:
                expected = 403 if ROLES.index(who) < ROLES.index(least) else 200
            where = f"GET {url} as {who} (least role {least or 'public'})"
            if response.status_code != expected:
                failures.append(f"{where}: {response.status_code}, expected {expected}")
            if expected == 302 and not response.headers.get("Location", "").startswith(
                    "/login"):
                failures.append(f"{where}: redirected to {response.headers.get('Location')}")
            failures += [f"{where}: {p}" for p in _header_problems(response)]
    assert not failures, "\n".join(failures)
    assert _changed_tables(before, _snapshot()) == [], "a GET changed the database"


def test_role_walk_over_every_form_post(app, world):
    """Each unsafe method outside the API, with a valid CSRF token and real form data:
    anonymous → sign-in, a role below the least one → 403, and nothing changes."""
    browsers = {"anonymous": _anonymous(app)}
    browsers.update({role: _signed_in(app, role) for role in ROLES})
    before = _snapshot()
    failures, tried = [], 0
    for rule in _rules(app, api=False):
        least = required_role(app, rule.endpoint)
        if least is None:
            continue
        for method in sorted(rule.methods & UNSAFE_METHODS):
            url = _url(app, world, rule, method)
            for who, browser in browsers.items():
                if who != "anonymous" and ROLES.index(who) >= ROLES.index(least):
                    continue
                response = _send(browser, method, url, rule.endpoint, world, csrf="valid")
                tried += 1
                expected = 302 if who == "anonymous" else 403
                if response.status_code != expected:
                    failures.append(f"{method} {url} as {who} (least role {least}): "
                                    f"{response.status_code}, expected {expected}")
    assert tried > 10
    assert not failures, "\n".join(failures)
    assert _changed_tables(before, _snapshot()) == []


# ---------------------------------------------------------------- the role × route × method matrix

WHO = ("anonymous", *ROLES)
NOT_ALLOWED = ("DELETE", "PUT", "PATCH", "POST")  # the first a path does not take is sent


def _declared_refusal(who: str, least: str | None, api: bool) -> int | None:
    """What the route's declared rule answers ``who``: the sign-in redirect (302, cookie
    routes) or 401 (bearer) for anonymous, 403 below the least role, None when it lets
    them through."""
    if least is None:
        return None
    if who == "anonymous":
        return 401 if api else 302
    return 403 if ROLES.index(who) < ROLES.index(least) else None


def _path_methods(app) -> dict[str, set[str]]:
    """Every method each path takes, over all its rules (a path may have one per method)."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        found.setdefault(rule.rule, set()).update(rule.methods)
    return found


@pytest.mark.parametrize("who", WHO)
def test_role_matrix_over_every_route_and_method(app, world, who):
    """Generated from app.url_map and each route's declared rule (required_role): every
    rule, cookie and bearer alike, with each method it takes (HEAD and OPTIONS included)
    and one its path does not take, as ``who``. Anonymous: the sign-in redirect (cookie) or
    401 (bearer); below the least role: 403; at or above it: anything but 401/403, a 5xx or
    the sign-in page (a 404/409/422 from missing data is fine: the requests carry no
    data); a method the path does not take: 405. OPTIONS runs no view: an empty answer
    with Allow, or the refusal above where a check runs first. A rule with no declared
    role and not in PUBLIC fails. (The walks above check more per answer: the headers, no
    change from refused posts, the API's document; test_get_changes_nothing.py that a GET
    changes nothing.)"""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is an answer to report
    browser = _anonymous(app) if who == "anonymous" else _signed_in(app, who)
    bearer = {}
    if who != "anonymous":
        user = db.session.scalar(select(User).where(User.username == f"walk-{who}"))
        bearer = {"Authorization": f"Bearer {users_domain.create_token(db.session, user, 'm')}"}
        db.session.commit()
    paths = _path_methods(app)
    failures, tried = [], 0
    # Signing out ends this browser's session: last.
    for rule in sorted(app.url_map.iter_rules(),
                       key=lambda r: (r.endpoint == "auth.logout", r.rule, r.endpoint)):
        api = rule.endpoint.startswith("api.")
        least = required_role(app, rule.endpoint)
        if least is None and rule.endpoint not in PUBLIC:
            failures.append(f"{rule.rule} ({rule.endpoint}): no declared role and not PUBLIC")
            continue
        refusal = _declared_refusal(who, least, api)
        not_allowed = next(m for m in NOT_ALLOWED if m not in paths[rule.rule])
        for method in sorted(rule.methods | {not_allowed}):
            reading = method in ("GET", "HEAD")
            query, htmx = GET_REQUESTS.get(rule.endpoint, ({}, False)) if reading else ({},
                                                                                      False)
            url = _url(app, world, rule, sorted(rule.methods - {"HEAD", "OPTIONS"})[0], query)
            headers = {"HX-Request": "true"} if htmx else {}
            if api:
                headers.update(bearer)
            elif who != "anonymous" or method not in ("GET", "HEAD", "OPTIONS"):
                headers["X-CSRFToken"] = browser.token
            body = {} if api and not reading and method != "OPTIONS" else None
            answer = browser.client.open(url, method=method, headers=headers, json=body)
            tried += 1
            status, where = answer.status_code, f"{method} {url} as {who} (least {least})"
            signing_in = status == 302 and answer.headers.get("Location", "").startswith(
                "/login")
            if method == not_allowed:
                ok = status == 405
            elif method == "OPTIONS":
                empty = status in (200, 204) and answer.get_data() == b"" and \
                    "Allow" in answer.headers
                ok = empty or (refusal is not None and status == refusal and
                               (refusal != 302 or signing_in))
            elif refusal is not None:
                ok = status == refusal and (refusal != 302 or signing_in)
            else:
                ok = status not in (401, 403) and status < 500 and (
                    not signing_in or rule.endpoint == "auth.logout")  # signed out: success
            if not ok:
                failures.append(f"{where}: {status}, declared "
                                f"{refusal or ('405' if method == not_allowed else 'through')}")
    assert tried > 150
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- CSRF

def _form_data(endpoint: str, world) -> dict | None:
    """Data each unsafe endpoint accepts, so that a request that got through would change
    something. A new endpoint needs an entry (None: the endpoint takes a JSON body)."""
    csv_file = lambda text: (io.BytesIO(text.encode()), "upload.csv")  # noqa: E731
    table = {
        "auth.login": {"username": "victim", "password": PASSWORD},
        "auth.logout": {},
        "admin.settings": {"require_lot_serial_at_pack": "y"},
        "admin.users": {"username": "intruder", "password": "intruder-pw", "role": "admin"},
        "admin.edit_user": {"role": "admin", "active": "y", "password": "taken-over-pw"},
        "admin.sign_out_everywhere": {},
        "admin.revoke_token": {},
        "sign_in_locks.unlock": {"username": "victim"},
        "inventory.put": {"location": "B-1", "sku": "SKU-1", "qty": "2", "idem": "csrf-put"},
        "inventory.pull": {"location": "A-1", "sku": "SKU-1", "qty": "1", "idem": "csrf-pull"},
        "inventory.move": {"from_location": "A-1", "sku": "SKU-1", "qty": "1",
                           "to_location": "B-1", "idem": "csrf-move"},
        "inventory.count": {"location": "A-1", "sku": "SKU-1", "qty": "0",
                            "idem": "csrf-count"},
        "inventory.receive": {"po": "PO-1", "location": "B-1", "sku": "SKU-1", "qty": "1",
                              "idem": "csrf-receive"},
        "inventory.lookup": {"location": "A-1"},
        "items.bulk": {"action": "require_lot", "item_id": str(world.item_id),
                       "confirmed": "1"},
        "items.new": {"sku": "NEW-1", "lot_at_pack": "follow"},
        "items.edit": {"sku": "SKU-1", "description": "changed", "require_lot": "y",
                       "lot_at_pack": "follow", "confirmed": "1"},
        "locations.create": {"code": "NEW-LOC", "type": "storage"},
        "locations.import_csv": {"file": csv_file("code\nIMP-1\n")},
        "locations.set_active": {"active": "0"},
        "lots.hold": {"lot": "L1", "sku": "LOT-1", "reason": "recall"},
        "lots.release": {"lot": "L1", "sku": "LOT-1"},
        "orders.new": {"number": "SO-2", "customer": "C", "lines": "SKU-1 1"},
        "orders.upload": {"file": csv_file("order,customer,sku,qty\nSO-3,C,SKU-1,1\n")},
        "orders.act": {},
        "orders.return_picked": {"sku": "SKU-1", "lot": "L1", "qty": "1", "location": "B-1",
                                 "idem": "csrf-return"},
        "packing.index": {"order": "SO-1", "sku": "SKU-1", "qty": "1", "idem": "csrf-pack"},
        "packing.replay": None,
        "picking.index": {"order": "SO-1", "location": "A-1", "sku": "SKU-1", "qty": "1",
                          "idem": "csrf-pick"},
        "purchasing.create": {"number": "PO-2", "lines": "SKU-1 5"},
        "station.station": {"name": "EVIL-1"},
    }
    if endpoint not in table:
        pytest.fail(f"{endpoint}: add the data it accepts to _form_data in "
                    f"tests/test_security.py")
    return table[endpoint]


JSON_BODIES = {"packing.replay": {"order": "SO-1", "sku": "SKU-1", "qty": 1, "key": "csrf-k1"}}


def _send(browser: Browser, method: str, url: str, endpoint: str, world, *, csrf: str,
          htmx: bool = False):
    """``csrf``: "valid" (the page's token), "none" (no token at all) or "forged"."""
    token = {"valid": browser.token, "forged": "forged-" + "0" * 40, "none": None}[csrf]
    headers = {"HX-Request": "true"} if htmx else {}
    data = _form_data(endpoint, world)
    if data is None:  # a JSON body: the token can only ride in the header
        if token:
            headers["X-CSRFToken"] = token
        return browser.client.open(url, method=method, json=JSON_BODIES[endpoint],
                                   headers=headers)
    data = dict(data)
    if token and htmx:
        headers["X-CSRFToken"] = token
    elif token:
        data["csrf_token"] = token
    return browser.client.open(url, method=method, data=data, headers=headers)


def test_every_unsafe_request_without_a_valid_csrf_token_is_refused(app, world):
    """A signed-in admin, so no role check stands in the way: every POST/PUT/PATCH/DELETE
    outside the API, as a form and as htmx, with no token or a forged one → 400, and the
    database is exactly as it was."""
    admin = _signed_in(app, "admin")
    before = _snapshot()
    failures, tried = [], 0
    for rule in _rules(app, api=False):
        for method in sorted(rule.methods & UNSAFE_METHODS):
            url = _url(app, world, rule, method)
            for csrf in ("none", "forged"):
                for htmx in (False, True):
                    response = _send(admin, method, url, rule.endpoint, world, csrf=csrf,
                                     htmx=htmx)
                    tried += 1
                    body = response.get_data(as_text=True)
                    if response.status_code != 400 or "security token" not in body:
                        failures.append(f"{method} {url} ({csrf} token, htmx={htmx}): "
                                        f"{response.status_code}")
                    failures += [f"{method} {url}: {p}" for p in _header_problems(response)]
                    if any(h.startswith("lotline_station=")
                           for h in response.headers.getlist("Set-Cookie")):
                        failures.append(f"{method} {url}: set the station cookie")
    assert tried >= 4 * 20
    assert not failures, "\n".join(failures)
    assert _changed_tables(before, _snapshot()) == []
    assert admin.get("/").status_code == 200  # the refused sign-out did not sign out


def test_a_token_from_another_session_is_refused(app, world):
    mallory, admin = _signed_in(app, "supervisor"), _signed_in(app, "admin")
    admin.token = mallory.token  # a real token, but bound to the other session
    response = _send(admin, "POST", "/admin/settings", "admin.settings", world, csrf="valid")
    assert response.status_code == 400
    assert settings_domain.get_setting(db.session,
                                       settings_domain.REQUIRE_LOT_SERIAL_AT_PACK) is False


def _hold_count() -> int:
    from lotline.lots import held_lot_ids
    from lotline.models import Lot

    return len(held_lot_ids(db.session, list(db.session.scalars(select(Lot.id)))))


REPRESENTATIVE = {
    # endpoint: (method, path, what it changes when it gets through)
    "items.edit": ("POST", "/items/SKU-1/edit",
                   lambda: db.session.scalar(select(Item.description).where(Item.sku == "SKU-1"))),
    "orders.act": ("POST", "/orders/SO-1/cancel",
                   lambda: db.session.scalar(select(Order.status).where(Order.number == "SO-1"))),
    "inventory.put": ("POST", "/put",
                      lambda: db.session.scalar(select(Inventory.qty).join(Location).where(
                          Location.code == "B-1"))),
    "admin.edit_user": ("POST", "/admin/users/{user_id}",
                        lambda: db.session.scalar(select(User.role).where(
                            User.username == "victim"))),
    "lots.hold": ("POST", "/lots/hold", _hold_count),
    "locations.set_active": ("POST", "/locations/{location_id}/active",
                             lambda: db.session.scalar(select(Location.active).where(
                                 Location.code == "B-1"))),
}


@pytest.mark.parametrize("endpoint", sorted(REPRESENTATIVE))
def test_refused_without_csrf_changes_nothing_and_goes_through_with_it(app, world, endpoint):
    """The control for the sweep above: the same data with the token does change things,
    so the refusals really stood between the request and a change."""
    method, path, state = REPRESENTATIVE[endpoint]
    url = path.format(user_id=world.victim_id, location_id=world.location_ids["B-1"])
    admin = _signed_in(app, "admin")

    def current():
        db.session.rollback()
        return state()

    before = current()
    for htmx in (False, True):
        refused = _send(admin, method, url, endpoint, world, csrf="none", htmx=htmx)
        assert refused.status_code == 400
        assert current() == before
    accepted = _send(admin, method, url, endpoint, world, csrf="valid")
    assert accepted.status_code in (200, 302), accepted.get_data(as_text=True)[:500]
    assert current() != before


# ---------------------------------------------------------------- bad input

QUERY_NAMES = ("q", "location", "sku", "lot", "order", "po", "status", "user", "type",
               "date_from", "page")


def test_a_nul_character_in_any_field_is_refused_not_a_server_error(app, world):
    """A scanner or a script can send a control character; it must get an answer, not a
    500. (PostgreSQL cannot store or even compare text holding NUL.) Every page with a NUL
    in the query names the screens read, and every form with a NUL in each field."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is an answer to report
    admin, anonymous = _signed_in(app, "admin"), _anonymous(app)
    failures = []
    query = {name: "X%00" for name in QUERY_NAMES}
    for rule in _rules(app, api=False):
        if "GET" in rule.methods and rule.endpoint != "static":
            url = _url(app, world, rule, "GET", query)
            status = admin.get(url).status_code
            if status >= 500:
                failures.append(f"GET {url}: {status}")
        for method in sorted(rule.methods & UNSAFE_METHODS):
            url = _url(app, world, rule, method)
            data = _form_data(rule.endpoint, world)
            fields = [k for k, v in (data or JSON_BODIES.get(rule.endpoint, {})).items()
                      if isinstance(v, str)]
            for field in fields:
                browser = anonymous if rule.endpoint == "auth.login" else admin
                if data is None:
                    body = {**JSON_BODIES[rule.endpoint], field: "X\x00"}
                    response = browser.client.open(url, method=method, json=body,
                                                   headers={"X-CSRFToken": browser.token})
                else:
                    response = browser.client.open(url, method=method, data={
                        **data, field: data[field] + "\x00", "csrf_token": browser.token})
                if response.status_code >= 500:
                    failures.append(f"{method} {url} with a NUL in {field}: "
                                    f"{response.status_code}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the API

def test_api_role_walk(app, client, world):
    """Every /api/v1 operation: 401 without a usable token, 403 below the operation's role
    (its required_roles), and past the role check at or above it. The OpenAPI document says
    the same role."""
    tokens = {}
    for role in ROLES:
        user = make_user(f"api-walk-{role}", role)
        tokens[role] = users_domain.create_token(db.session, user, "walk")
    db.session.commit()
    document = client.get("/api/v1/openapi.json").get_json()
    before = _snapshot()
    failures, operations = [], 0
    unusable = {"no header": None, "empty bearer": "Bearer ", "not bearer": "Token {t}",
                "wrong secret": "Bearer {t}x", "basic": "Basic {t}"}
    for rule in _rules(app, api=True):
        if rule.endpoint in PUBLIC:
            assert client.get(rule.rule).status_code == 200
            continue
        least = required_role(app, rule.endpoint)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations += 1
            url = _url(app, world, rule, method)
            body = None if method == "GET" else {}
            where = f"{method} {url} (least role {least})"
            for label, header in unusable.items():
                headers = {"Authorization": header.format(t=tokens["admin"])} if header else {}
                response = client.open(url, method=method, json=body, headers=headers)
                if response.status_code != 401 or \
                        response.json["error"]["code"] != "unauthorized":
                    failures.append(f"{where}, {label}: {response.status_code}")
            for role in ROLES:
                response = client.open(url, method=method, json=body,
                                       headers={"Authorization": f"Bearer {tokens[role]}"})
                below = ROLES.index(role) < ROLES.index(least)
                if below and (response.status_code != 403
                              or response.json["error"]["code"] != "forbidden"):
                    failures.append(f"{where} as {role}: {response.status_code}, expected 403")
                if not below and (response.status_code in (401, 403)
                                  or response.status_code >= 500
                                  or (method == "GET" and response.status_code != 200)):
                    failures.append(f"{where} as {role}: {response.status_code}")
            openapi_path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            described = document["paths"][openapi_path][method.lower()]["description"]
            if f"Requires a {least} token" not in described:
                failures.append(f"{where}: the OpenAPI document says {described!r}")
    assert operations >= 20
    assert not failures, "\n".join(failures)
    assert _changed_tables(before, _snapshot()) == []


def test_api_token_of_a_deactivated_user_is_refused(api):
    caller = api("admin")
    assert caller.get("/api/v1/items").status_code == 200
    user = db.session.scalar(select(User).where(User.username == "api-admin"))
    user.active = False
    db.session.commit()
    response = caller.get("/api/v1/items")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_api_token_with_a_known_prefix_and_a_wrong_secret_is_refused(api):
    caller = api("admin")
    prefix = caller.token.split("_", 2)[1]
    for forged in (f"ll_{prefix}_", f"ll_{prefix}_guess", f"ll_{prefix}_{'A' * 43}",
                   caller.token[:-1] + ("A" if caller.token[-1] != "A" else "B")):
        assert caller.get("/api/v1/items", token=forged).status_code == 401


def test_user_for_token_compares_hashes_in_constant_time():
    """By inspection: the stored hash is compared with hmac.compare_digest, never with ==,
    and never used as a lookup key (which would let the database's timing tell)."""
    tree = ast.parse(inspect.getsource(users_domain.user_for_token))
    compare_digest = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                      and ast.unparse(n.func) == "hmac.compare_digest"]
    assert compare_digest, "user_for_token must compare with hmac.compare_digest"
    assert any("token_hash" in ast.unparse(call) for call in compare_digest)
    plain = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)
             and "token_hash" in ast.unparse(n)]
    assert not plain, f"token hash compared with an operator: {plain}"


# ---------------------------------------------------------------- secrets at rest

def _all_stored_text() -> str:
    return "\n".join(repr(row) for rows in _snapshot().values() for row in rows)


def test_no_password_or_token_secret_is_stored_anywhere(app, api):
    victim_id = make_user("victim", "packer").id
    caller = api("supervisor")
    admin = _signed_in(app, "admin")
    db.session.rollback()
    created = admin.post("/admin/users", {"username": "newbie", "password": "newbie-secret-1",
                                          "role": "packer"})
    assert created.status_code == 302
    changed = admin.post(f"/admin/users/{victim_id}", {"role": "packer", "active": "y",
                                                       "password": "changed-secret-2"})
    assert changed.status_code == 302
    stored = _all_stored_text()
    for secret in (PASSWORD, "newbie-secret-1", "changed-secret-2", caller.token,
                   caller.token.split("_", 2)[2]):
        assert secret not in stored, f"{secret!r} is stored in plain text"
    hashes = dict(db.session.execute(select(User.username, User.password_hash)).all())
    assert check_password_hash(hashes["newbie"], "newbie-secret-1")
    assert check_password_hash(hashes["victim"], "changed-secret-2")
    method = app.config["PASSWORD_HASH_METHOD"].split(":")[0]
    assert hashes["newbie"].startswith(method + ":")
    token_hash = db.session.scalar(select(ApiToken.token_hash).join(User).where(
        User.username == "api-supervisor"))
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash)


def test_production_configuration_hashes_with_scrypt_and_sets_secure_cookies(monkeypatch):
    monkeypatch.delenv("LOTLINE_INSECURE_COOKIES", raising=False)
    app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    method, n, r, p = app.config["PASSWORD_HASH_METHOD"].split(":")[0:1] + [
        int(x) for x in app.config["PASSWORD_HASH_METHOD"].split(":")[1:]]
    assert method == "scrypt"
    # One of OWASP's equivalent scrypt minimums, at 16 MiB or less of memory per hash.
    assert (n, r, p) in {(2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5),
                         (2**13, 8, 10)}
    assert 128 * n * r <= 16 * 2**20
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config.get("WTF_CSRF_ENABLED", True) and app.config.get("WTF_CSRF_CHECK_DEFAULT",
                                                                       True)
    with app.app_context():
        db.engine.dispose()


def test_an_unknown_name_is_checked_against_a_hash_made_like_real_ones(app, monkeypatch):
    """So a refusal takes as long whether or not the name exists (no user enumeration)."""
    from werkzeug import security

    checked = []
    real = security.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(users_domain, "check_password_hash", spy)
    for method in ("pbkdf2:sha256:1000", "scrypt:1024:8:1"):
        with pytest.raises(DomainError):
            users_domain.authenticate(db.session, "nobody-here", "whatever-pass",
                                      hash_method=method)
        assert checked[-1].startswith(method + "$")


# ---------------------------------------------------------------- login throttling
# test_auth.py shows 5 failures lock the name, the right password is refused while locked,
# and the lock ends. These add the edges.

def _sign_in(app, username, password):
    return Browser(_Client(app)).login(username, password)


def test_four_failures_do_not_lock_and_a_success_starts_the_count_again(app):
    make_user("pat", "packer")
    for _ in range(users_domain.MAX_FAILURES - 1):
        assert _sign_in(app, "pat", "wrong-pass").status_code == 401
    assert _sign_in(app, "pat", PASSWORD).status_code == 302
    db.session.rollback()
    assert db.session.get(LoginThrottle, "pat") is None
    for _ in range(users_domain.MAX_FAILURES - 1):
        _sign_in(app, "pat", "wrong-pass")
    assert _sign_in(app, "pat", PASSWORD).status_code == 302


def test_the_lock_is_per_name_and_holds_for_the_same_name_written_differently(app):
    make_user("pat", "packer")
    make_user("sam", "packer")
    for _ in range(users_domain.MAX_FAILURES):
        _sign_in(app, "pat", "wrong-pass")
    assert _sign_in(app, "sam", PASSWORD).status_code == 302  # another name is not locked
    for variant in ("pat", " pat", "pat "):
        response = _sign_in(app, variant, PASSWORD)
        assert response.status_code == 429, variant
        assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_unknown_names_lock_the_same_way_so_the_answer_does_not_tell_who_exists(app):
    make_user("pat", "packer")
    answers = {}
    for name in ("pat", "nobody"):
        statuses = [_sign_in(app, name, "wrong-pass").status_code
                    for _ in range(users_domain.MAX_FAILURES + 1)]
        answers[name] = statuses
    assert answers["pat"] == answers["nobody"] == [401] * users_domain.MAX_FAILURES + [429]


def test_failures_further_apart_than_the_window_do_not_add_up(app):
    import datetime as dt

    from lotline.errors import DomainError

    make_user("pat", "packer")
    start = dt.datetime(2030, 1, 1, 8, 0)
    step = users_domain.FAILURE_WINDOW + dt.timedelta(minutes=1)
    for n in range(users_domain.MAX_FAILURES + 2):
        with pytest.raises(DomainError) as refused:
            users_domain.authenticate(db.session, "pat", "wrong-pass", now=start + n * step)
        assert refused.value.code == "bad_credentials"
    db.session.commit()
    later = start + (users_domain.MAX_FAILURES + 2) * step
    assert users_domain.authenticate(db.session, "pat", PASSWORD, now=later).username == "pat"


# ---------------------------------------------------------------- cookies and headers

def _cookie_problems(header: str) -> list[str]:
    name = header.split("=", 1)[0]
    parts = {p.strip().split("=", 1)[0].lower(): p.strip() for p in header.split(";")[1:]}
    problems = [f"{name} cookie lacks {flag}" for flag in ("Secure", "HttpOnly")
                if flag.lower() not in parts]
    if parts.get("samesite", "").lower() != "samesite=lax":
        problems.append(f"{name} cookie is not SameSite=Lax ({parts.get('samesite')})")
    return problems


def test_every_cookie_set_on_the_way_in_and_out_is_secure_httponly_lax(app):
    make_user("pat", "packer")
    browser = Browser(_Client(app))
    seen = []

    def record(response):
        seen.extend(response.headers.getlist("Set-Cookie"))
        return response

    record(browser.client.get("/login"))  # an anonymous session holding the CSRF token
    record(browser.login("pat"))
    record(browser.post("/station", {"name": "PACK-01"}))
    record(browser.post("/logout"))
    names = {h.split("=", 1)[0] for h in seen}
    assert {"lotline_session", "lotline_station"} <= names, names
    problems = [p for h in seen for p in _cookie_problems(h)]
    assert not problems, problems


def _proxied(tmp_path, **config):
    from flask import request

    app = create_app({"TESTING": True, "SECRET_KEY": "t",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxied.db'}",
                      **config})
    app.add_url_rule("/_test_address", "test_address", lambda: request.remote_addr)
    return app


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
             "X-Forwarded-Host": "lotline.example"}


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(tmp_path, monkeypatch):
    """By default a client cannot claim HTTPS (HSTS) or another address; with
    LOTLINE_TRUSTED_PROXIES=1 the proxy's X-Forwarded-* are believed (Werkzeug's
    ProxyFix)."""
    monkeypatch.delenv("LOTLINE_TRUSTED_PROXIES", raising=False)
    plain = _proxied(tmp_path).test_client()
    response = plain.get("/login", headers=FORWARDED)
    assert "Strict-Transport-Security" not in response.headers
    assert plain.get("/_test_address", headers=FORWARDED).get_data(as_text=True) == "127.0.0.1"
    monkeypatch.setenv("LOTLINE_TRUSTED_PROXIES", "1")
    proxied = _proxied(tmp_path).test_client()
    response = proxied.get("/login", headers=FORWARDED)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert proxied.get("/_test_address", headers=FORWARDED).get_data(as_text=True) == \
        "203.0.113.9"
    assert "Strict-Transport-Security" not in proxied.get("/login").headers  # no header: HTTP
    with pytest.raises(ValueError, match="LOTLINE_TRUSTED_PROXIES"):
        _proxied(tmp_path, TRUSTED_PROXIES="yes")


CSP_FORBIDDEN = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:",
                 "https:", "blob:")


def _csp_problems(header: str | None) -> list[str]:
    if not header:
        return ["no Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    problems = []
    for name in ("script-src", "style-src"):
        sources = directives.get(name, directives.get("default-src"))
        if sources is None:
            problems.append(f"CSP has no {name} (nor default-src)")
            continue
        problems += [f"CSP {name} allows {s}" for s in sources if s.lower() in CSP_FORBIDDEN]
    if directives.get("object-src", directives.get("default-src")) != ["'none'"]:
        problems.append("CSP object-src is not 'none'")
    if directives.get("frame-ancestors") != ["'none'"]:
        problems.append("CSP frame-ancestors is not 'none'")
    return problems


def _header_problems(response) -> list[str]:
    problems = []
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if response.headers.get("X-Frame-Options") != "DENY":
        problems.append("no X-Frame-Options: DENY")
    problems += _csp_problems(response.headers.get("Content-Security-Policy"))
    if response.mimetype == "text/html":
        problems += [f"inline markup: {p}" for p in inline_markup(response.get_data(as_text=True))]
    return problems


def test_error_pages_carry_the_csp_and_headers(app, world):
    def boom():
        raise RuntimeError("an unexpected failure")

    app.add_url_rule("/_test_boom", "test_boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    supervisor = _signed_in(app, "supervisor")
    packer = _signed_in(app, "packer")
    big = b"x" * (3 * 1024 * 1024)
    cases = {
        400: lambda htmx: supervisor.post("/items/bulk", {}, htmx=htmx, csrf=False),
        403: lambda htmx: packer.get("/items", htmx=htmx),
        404: lambda htmx: supervisor.get("/no-such-page", htmx=htmx),
        405: lambda htmx: supervisor.get("/logout", htmx=htmx),
        413: lambda htmx: supervisor.client.post(  # raw bytes: no temporary file to leak
            "/locations/import", data=big, content_type="multipart/form-data; boundary=b",
            headers={"X-CSRFToken": supervisor.token, **({"HX-Request": "true"} if htmx
                                                        else {})}),
        500: lambda htmx: supervisor.get("/_test_boom", htmx=htmx),
    }
    failures = []
    for status, call in cases.items():
        for htmx in (False, True):
            response = call(htmx)
            if response.status_code != status:
                failures.append(f"{status} (htmx={htmx}): got {response.status_code}")
            failures += [f"{status} (htmx={htmx}): {p}" for p in _header_problems(response)]
    api_404 = app.test_client().get("/api/v1/items/none")
    failures += [f"API 401: {p}" for p in _header_problems(api_404)]
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- no inline script or style

class _InlineFinder(HTMLParser):
    """Markup the CSP would block (or that needs eval): inline <script>/<style> and event
    handler, style, hx-on and javascript: attributes, htmx expressions that need eval."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = [(name.lower(), value or "") for name, value in attrs]
        names = {name for name, _ in attrs}
        where = f"line {self.getpos()[0]}: <{tag}>"
        if tag == "script":
            self._script = "src" if "src" in names else ""
            if "src" not in names:
                self.problems.append(f"{where} without src")
        if tag == "style":
            self.problems.append(f"{where} block")
        for name, value in attrs:
            bare = name.removeprefix("data-")
            if name.startswith("on"):
                self.problems.append(f"{where} event handler {name}=")
            elif name == "style":
                self.problems.append(f"{where} style=")
            elif bare.startswith("hx-on"):
                self.problems.append(f"{where} {name}=")
            elif re.match(r"\s*javascript:", value, re.I):
                self.problems.append(f"{where} javascript: URL in {name}=")
            elif bare in ("hx-vals", "hx-vars") and (bare == "hx-vars" or re.match(
                    r"\s*(js|javascript):", value, re.I)):
                self.problems.append(f"{where} {name}= evaluates script")
            elif bare == "hx-trigger" and "[" in value:
                self.problems.append(f"{where} hx-trigger filter {value!r} evaluates script")

    def handle_data(self, data):
        if self._script == "src" and data.strip():
            self.problems.append(f"line {self.getpos()[0]}: <script src> with inline body")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def inline_markup(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def _template_markup(source: str) -> str:
    """A Jinja template as markup: comments dropped, tags blanked, expressions a word."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", "X", source, flags=re.S)


def test_the_inline_finder_finds_what_it_looks_for():
    bad = ('<script>alert(1)</script><style>p{}</style><a href="javascript:x()">x</a>'
           '<b onclick="x()" style="color:red" hx-on:click="x()" data-hx-on-load="y">'
           '<i hx-vals=\'js:{a: 1}\' hx-trigger="click[ctrlKey]"></i>')
    assert len(inline_markup(bad)) == 9, inline_markup(bad)
    good = ('<script src="/static/js/lotline.js" defer></script><a href="/items">Items</a>'
            '<form hx-post="/x" hx-trigger="submit"><input name="onhand"></form>')
    assert inline_markup(good) == []


def test_no_template_has_inline_script_or_style():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20
    problems = [f"{path.relative_to(ROOT)} {p}" for path in templates
                for p in inline_markup(_template_markup(path.read_text(encoding="utf-8")))]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- SQL only through bound values

SQL_SINKS = {"text", "literal_column", "exec_driver_sql", "execute", "executemany",
             "executescript", "copy"}


def _is_formatted(node, assigned: dict[str, list]) -> bool:
    """A string built from non-constant parts: an f-string with a {value}, % or .format()
    on a string, + with a string; a name assigned any of these in the same scope."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        parts = (node.left, node.right)
        has_text = any(isinstance(p, ast.Constant) and isinstance(p.value, str)
                       or isinstance(p, ast.JoinedStr) for p in parts)
        constant = all(isinstance(p, ast.Constant) for p in parts)
        return (has_text and not constant) or any(_is_formatted(p, assigned) for p in parts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("format", "join") and \
            isinstance(node.func.value, ast.Constant | ast.JoinedStr):
        return True
    if isinstance(node, ast.IfExp):
        return _is_formatted(node.body, assigned) or _is_formatted(node.orelse, assigned)
    if isinstance(node, ast.Name):
        return any(_is_formatted(v, {}) for v in assigned.get(node.id, []))
    return False


def _sql_built_by_formatting(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    scopes = [tree, *(n for n in ast.walk(tree)
                      if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]
    found = set()
    for scope in scopes:
        assigned: dict[str, list] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if name in SQL_SINKS and _is_formatted(node.args[0], assigned):
                found.add(f"{path.relative_to(root)}:{node.lineno}: {name}(…) of a string "
                          f"built by formatting: {ast.unparse(node.args[0])[:100]}")
    return sorted(found)


def test_the_sql_scanner_finds_formatted_sql(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f(session, conn, cur, name, q):\n"
        "    session.execute(text(f'SELECT * FROM item WHERE sku = {name}'))\n"
        "    conn.exec_driver_sql('DELETE FROM item WHERE id = %s' % q)\n"
        "    sql = 'SELECT ' + name\n"
        "    cur.execute(sql)\n"
        "    session.execute(text('SELECT 1 WHERE sku = :sku'), {'sku': name})\n"
        "    conn.exec_driver_sql('BEGIN IMMEDIATE' if q else 'BEGIN')\n"
        "    cur.execute('PRAGMA foreign_keys=ON')\n")
    found = _sql_built_by_formatting(probe, tmp_path)
    assert [line.split(":")[1] for line in found] == ["2", "3", "5"], found


def test_sql_is_built_only_through_the_orm_or_bound_parameters():
    sources = sorted([*(ROOT / "lotline").rglob("*.py"), *(ROOT / "blueprints").rglob("*.py")])
    assert len(sources) > 20
    found = [hit for path in sources for hit in _sql_built_by_formatting(path)]
    assert not found, ("SQL built by string formatting (use the ORM/Core or bound "
                       "parameters; identifiers through the dialect's quoting):\n"
                       + "\n".join(found))
