"""GET never changes anything: a scan screen may prefill its steps from the query string,
but only a POST with a valid CSRF token commits.

Every route declares the parameters it reads (``blueprints.accepts``; the API's operations
derive theirs from their body schema and query parameters). For every rule of the URL map
this module sends a GET with every declared parameter set to a value that would change
something if the GET committed (a put of stock that is there, a pick of an order that has
work, a carton that is open, a user whose role would change …), as each role (anonymous,
packer, supervisor, admin; and with a bearer token of each role on /api/v1), plain and as
htmx, and compares a checksum of every table before and after. Columns declared as
bookkeeping (``info={"bookkeeping": True}``, e.g. a token's last-used time) are left out.

One app and one seeded database (the demo warehouse) serve the whole module; a request that
did change something is reported and the database is put back as seeded, so one bad route
cannot hide or cause another's result. Runs on SQLite and, with TEST_DATABASE_URL, on
PostgreSQL.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from app import create_app
from lotline import demo, packing, picking
from lotline import users as users_domain
from lotline.extensions import db
from lotline.inventory import Actor
from lotline.models import Item, Location, User
from tests.conftest import FAST_HASH, csrf_from, empty_tables

# The demo warehouse's users (lotline/demo.py): username -> password.
SIGNED_IN = {"packer": ("pat", "lotline-packer"), "supervisor": ("sam", "lotline-super"),
             "admin": ("admin", "lotline-admin")}

# Orders: the pick screen gets SO-5002, the next order to pick (SO-5001 is picked here;
# OMEGA-3-90 has stock; ICE-PACK-01's stock has no lot on record, so its line may be recorded
# short); the pack screen gets SO-5003, picked in full here, with one line packed so its
# carton is open (and can be closed).
PICK_ORDER, PACK_ORDER = "SO-5002", "SO-5003"

# A value by parameter name: each one, if a GET acted on it, would change something.
VALUES = {
    # steps of the scan screens: A-01-01 holds 40 of VIT-C-500, lot VC24A01; E-01-01 is empty
    "location": "A-01-01", "from_location": "A-01-01", "to_location": "E-01-01",
    "sku": "VIT-C-500", "lot": "VC24A01", "qty": "2", "po": "PO-1001", "order": "SO-5001",
    "serial": "SN-GET-0001", "expiry": "2031-01-31",
    # carried fields and commands
    "qty_pending": "1", "qty_override": "2", "allow_over_receipt": "1",
    "override": "allow_over_receipt", "skip": "SO-5001|B-99-99", "weight": "1200",
    "cmd": "CMD:CONFIRM", "step": "qty", "short": "1", "confirmed": "1", "redo": "qty",
    # forms: a new user, a new item, a new location, orders and purchase orders
    "username": "pat", "password": "wrong-password", "next": "/", "role": "supervisor",
    "active": "0", "require_lot_serial_at_pack": "y", "name": "PACK-GET",
    "description": "Changed by a GET", "gtin": "", "require_lot": "y", "require_serial": "y",
    "lot_at_pack": "always", "min_shelf_life_days": "30",
    "action": "require_lot", "q": "A", "page": "1", "sort": "sku", "dir": "desc",
    "code": "Z-99-99", "zone": "Z", "type": "storage", "file": "1",
    "reason": "Recall by a GET", "note": "Released by a GET",
    "number": "SO-9001", "customer": "GET Clinic", "customer_ref": "GET-1",
    "ship_to": "1 Query Street", "lines": "VIT-C-500 2", "vendor": "GET Supplies",
    "status": "open", "user": "pat", "date_from": "2000-01-01", "date_to": "2099-12-31",
}
# Fresh for every request (an idempotency key seen before would replay, not change).
FRESH = {"idem", "key", "Idempotency-Key"}
# Per endpoint, values that differ from VALUES (the screen's own order, a count of zero …).
OVERRIDES = {
    "inventory.count": {"qty": "0"},
    "picking.index": {"order": PICK_ORDER, "location": "A-01-04", "sku": "OMEGA-3-90",
                      "lot": "OM-5521", "qty": "1", "skip": f"{PICK_ORDER}|B-99-99"},
    "packing.index": {"order": PACK_ORDER, "sku": "PARA-500-16", "lot": "PA-1187", "qty": "1"},
    "packing.replay": {"order": PACK_ORDER, "sku": "PARA-500-16", "lot": "PA-1187",
                       "qty": "1"},
    "auth.login": {"password": "wrong-password"},  # a failed sign-in would count a failure
    "admin.users": {"username": "get-user", "password": "get-password-1"},
    "admin.edit_user": {"password": "get-password-1"},
    "items.new": {"sku": "GET-NEW-1"},
    "purchasing.create": {"number": "PO-9001"},
    "ledger.index": {"type": "put"},
    "ledger.export": {"type": "put"},
}
# Parameters that send a screen down another path than its steps' commit (a scanner command,
# a redo): each is sent alone with the steps (once per value listed here), and the steps are
# sent once without any of them, so none can hide another's commit. A GET must ignore them.
DIVERTERS = frozenset({"redo", "cmd"})
CHOICES = {"cmd": ("CMD:CONFIRM", "CMD:CLOSE", "CMD:NEXT", "CMD:SHORT", "CMD:SKIP",
                   "CMD:CANCEL", "CMD:STATION:GET-1")}
# JSON bodies (API routes) carry typed values.
JSON_TYPED = {"qty": 2, "min_shelf_life_days": 30, "require_lot": True, "require_serial": True,
              "allow_over_receipt": True, "require_lot_serial_at_pack": True, "gtin": None,
              "lines": [{"sku": "VIT-C-500", "qty": 2}]}


def _rules() -> list[tuple[str, str]]:
    """(endpoint, rule) of every route but static, from a throwaway app (collection time)."""
    throwaway = create_app({"TESTING": True, "SECRET_KEY": "rules",
                            "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted((r.endpoint, r.rule) for r in throwaway.url_map.iter_rules()
                  if r.endpoint != "static")


RULES = _rules()


# ---------------------------------------------------------------- the database, as checksums

def _checked_columns(table):
    return [c for c in table.columns if not c.info.get("bookkeeping")]


class Database:
    """Checksums of every table (each row by primary key, bookkeeping columns left out), and
    the seeded state to put back. The module takes a checksum after each of about a thousand
    requests, so its statements are built once and run on the driver: on PostgreSQL one
    statement digests every table on the server (one round trip); on SQLite each table's rows
    are read and hashed here."""

    def __init__(self, engine):
        self.engine = engine
        self.tables = list(db.metadata.sorted_tables)
        self.on_server = engine.dialect.name == "postgresql"
        if self.on_server:
            quote = engine.dialect.identifier_preparer.quote
            self.statements = [" UNION ALL ".join(
                f"SELECT '{t.name}', md5(coalesce(string_agg("
                f"ROW({', '.join(quote(c.name) for c in _checked_columns(t))})::text, "
                f"E'\\n' ORDER BY {', '.join(quote(c.name) for c in t.primary_key.columns)}"
                f"), '')) FROM {quote(t.name)}" for t in self.tables)]
        else:
            self.statements = [str(select(*_checked_columns(t))
                                   .order_by(*t.primary_key.columns)
                                   .compile(dialect=engine.dialect)) for t in self.tables]
        with engine.connect() as conn:
            self.seeded = {t.name: [dict(r._mapping) for r in conn.execute(
                select(t).order_by(*t.primary_key.columns))] for t in self.tables}
        self.last = self.checksum()

    def checksum(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            cursor = driver.cursor()
            try:
                if self.on_server:
                    cursor.execute(self.statements[0])
                    return dict(cursor.fetchall())
                out = {}
                for table, statement in zip(self.tables, self.statements, strict=True):
                    cursor.execute(statement)
                    out[table.name] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
                return out
            finally:
                cursor.close()
                driver.rollback()

    def changed(self) -> list[str]:
        """The tables that changed since the last call (then put back as seeded)."""
        now = self.checksum()
        tables = sorted(name for name in now if now[name] != self.last[name])
        if tables:
            self.restore()
            now = self.checksum()
            assert now == self.last, "the database could not be put back as seeded"
        self.last = now
        return tables

    def restore(self) -> None:
        with self.engine.begin() as conn:
            for table in reversed(self.tables):
                conn.execute(table.delete())
            for table in self.tables:
                if self.seeded[table.name]:
                    conn.execute(table.insert(), self.seeded[table.name])


# ---------------------------------------------------------------- the module's app and data

@dataclass
class Site:
    app: object
    database: Database
    clients: dict  # role (None: anonymous) -> (test client, CSRF token of its session)
    tokens: dict  # role -> API bearer token
    path_values: dict


def _seed() -> dict:
    """The demo warehouse; SO-5001 picked (so SO-5002 is the next order to pick), SO-5003
    picked with one line packed (its carton is open). Returns path values by name."""
    demo.seed(db.session, FAST_HASH)
    actor = Actor(None, "GET-test")
    for number, location, sku, qty in (
            ("SO-5001", "A-01-01", "VIT-C-500", 3), ("SO-5001", "C-01-01", "THERM-DIG-01", 1),
            ("SO-5001", "C-02-01", "GLOVE-NIT-M", 2),
            (PACK_ORDER, "B-01-04", "PARA-500-16", 4), (PACK_ORDER, "C-01-03", "PULSE-OX-03", 2),
            (PACK_ORDER, "C-02-03", "MASK-FFP2-20", 1)):
        picking.pick(db.session, order_number=number, location=location, sku=sku, qty=qty,
                     actor=actor)
    packing.pack(db.session, order_number=PACK_ORDER, sku="PARA-500-16", qty=1, actor=actor)
    db.session.commit()

    def id_of(model, **where):
        return db.session.scalar(select(model.id).filter_by(**where))

    return {
        "user_id": id_of(User, username="kim"),  # a packer whose role and password would change
        "location_id": id_of(Location, code="E-01-04"),  # empty: it could be deactivated
        "item_id": id_of(Item, sku="TAPE-MED-25"),
        "sku": "VIT-C-500", "lot": "VC24A01", "action": "cancel",
    }


def _sign_in(app, role: str | None):
    client = app.test_client()
    token = csrf_from(client.get("/login"))
    if role is None:
        return client, token
    username, password = SIGNED_IN[role]
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, (role, response.status_code)
    client.set_cookie("lotline_station", f"GET-{role}")
    home = client.get("/")
    assert home.status_code == 200, (role, home.status_code)
    return client, csrf_from(home)


@pytest.fixture(scope="module")
def site(tmp_path_factory, pg_schema):
    url = pg_schema or f"sqlite:///{tmp_path_factory.mktemp('get') / 'test.db'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": FAST_HASH})
    with app.app_context():
        empty_tables(pg_schema)
        path_values = _seed()
        tokens = {}
        for role, (username, _) in SIGNED_IN.items():
            user = db.session.scalar(select(User).where(User.username == username))
            tokens[role] = users_domain.create_token(db.session, user, "GET test")
        db.session.commit()
        db.session.remove()
        engine = db.engine
    # No app context is held open from here: each request gets its own, as in production.
    clients = {role: _sign_in(app, role) for role in (None, *SIGNED_IN)}
    yield Site(app, Database(engine), clients, tokens, path_values)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- requests

def _url(site: Site, endpoint: str, rule_text: str) -> str:
    rule = next(r for r in site.app.url_map.iter_rules(endpoint) if r.rule == rule_text)
    values = {}
    for name in rule.arguments:
        if name == "number":
            value = "PO-1001" if "purchase-orders" in rule_text else \
                PACK_ORDER if endpoint.startswith("packing.") else "SO-5001"
        else:
            value = site.path_values.get(name, "1")
        converter = rule._converters.get(name)
        values[name] = int(value) if isinstance(converter, IntegerConverter) else value
    return rule.build(values, append_unknown=False)[1]


def _variants(names: frozenset[str]) -> list[tuple[frozenset[str], dict]]:
    """(names, values that differ) to send: all the parameters together; and with
    diverters, the steps alone, and each diverter alone with the steps (each of its
    CHOICES in turn)."""
    diverters = names & DIVERTERS
    if not diverters:
        return [(names, {})]
    steps = names - DIVERTERS
    return [(names, {}), (steps, {}), *((steps | {d}, {d: value} if value else {})
                                         for d in sorted(diverters)
                                         for value in CHOICES.get(d, (None,)))]


def _params(endpoint: str, names, csrf_token: str, chosen: dict) -> dict[str, str]:
    values = {**VALUES, **OVERRIDES.get(endpoint, {}), **chosen}
    out = {}
    for name in sorted(names):
        if name == "csrf_token":
            out[name] = csrf_token  # this session's real token: nothing else may be missing
        elif name in FRESH:
            out[name] = uuid.uuid4().hex
        else:
            out[name] = values.get(name, "1")
    return out


def _json(params: dict[str, str]) -> dict:
    return {k: JSON_TYPED.get(k, v) for k, v in params.items()}


@dataclass
class Call:
    who: str
    htmx: bool
    params: dict
    send: Callable

    def describe(self, declared: bool) -> str:
        shown = {k: v for k, v in self.params.items() if k not in FRESH and k != "csrf_token"}
        what = shown if declared else f"every known name ({len(self.params)})"
        return f"as {self.who}{' (htmx)' if self.htmx else ''} with {what}"


def _calls(site: Site, endpoint: str, url: str, names: frozenset[str]):
    """Each request for this route: every variant, as every role, plain and as htmx (and
    with each role's bearer token on the API). The parameters go in the query string, and
    in a body too (JSON on the API, a form elsewhere): a GET never needs one, so a view that
    reads one on GET is caught as well."""
    api = url.startswith("/api/")
    for names_now, chosen in _variants(names):
        for role, (client, token) in site.clients.items():
            for htmx in (False, True):
                p = _params(endpoint, names_now, token, chosen)
                headers = {"HX-Request": "true"} if htmx else {}
                body = {"json": _json(p)} if api else {"data": p}
                yield Call(role or "anonymous", htmx, p,
                           lambda c=client, p=p, h=headers, b=body: c.get(
                               url, query_string=p, headers=h, **b))
        if api:
            for role, bearer in site.tokens.items():
                p = _params(endpoint, names_now, "", chosen)
                headers = {"Authorization": f"Bearer {bearer}",
                           "Idempotency-Key": uuid.uuid4().hex, "X-Station": "GET-test"}
                yield Call(f"{role} token", False, p,
                           lambda p=p, h=headers: site.clients[None][0].get(
                               url, query_string=p, headers=h, json=_json(p)))


# ---------------------------------------------------------------- the tests

def test_every_route_declares_the_parameters_it_reads(site):
    missing = sorted(f"{endpoint} ({rule})" for endpoint, rule in RULES
                     if not hasattr(site.app.view_functions[endpoint], "accepts"))
    assert not missing, ("Declare what these routes read, e.g. @accepts('q', 'page') under "
                         "the route decorator (blueprints.accepts): " + ", ".join(missing))


@pytest.mark.parametrize(("endpoint", "rule"), RULES, ids=[f"{e} {r}" for e, r in RULES])
def test_get_changes_nothing(site, endpoint, rule):
    declared = getattr(site.app.view_functions[endpoint], "accepts", None)
    # Undeclared: still checked, with every parameter name known here (and then failed).
    names = frozenset(declared if declared is not None else {*VALUES, *FRESH, "csrf_token"})
    url = _url(site, endpoint, rule)
    failures = []
    if declared is None:
        failures.append(f"{endpoint} ({rule}) declares no parameters: add @accepts(...) "
                        f"(blueprints.accepts)")
    for call in _calls(site, endpoint, url, names):
        response = call.send()
        status = response.status_code
        response.close()
        tables = site.database.changed()
        if tables:
            failures.append(f"GET {url} -> {status} changed {', '.join(tables)} "
                            f"{call.describe(declared is not None)}")
    assert not failures, f"{endpoint}: {len(failures)} problem(s)\n" + "\n".join(failures)
