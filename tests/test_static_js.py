"""static/js: ES modules of one job each, none over 400 lines, every one loaded by the pages
at once (no import found only by another's) and precached by the worker; and no JavaScript
copy of a pack rule, of its message, or of a GS1 parser (the pack page carries what the
offline device needs, blueprints/packoffline.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blueprints import pwa

JS = Path(__file__).resolve().parent.parent / "static" / "js"
NOT_MODULES = {"sw.js"}  # the service worker, a classic worker script
MODULES = sorted(p.name for p in JS.glob("*.js") if p.name not in NOT_MODULES
                 and not p.name.startswith("htmx-"))
STATIC_IMPORT = re.compile(r'^import [^;]*? from "\./([\w-]+\.js)";', re.M)


def source(name: str) -> str:
    return (JS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [p.name for p in JS.glob("*.js")
                                  if not p.name.startswith("htmx-")])
def test_no_script_is_over_400_lines(name):
    assert len(source(name).splitlines()) <= 400


def test_every_module_is_loaded_or_imported_on_demand_and_precached(client):
    assert sorted((*pwa.SCRIPT_MODULES, *pwa.LAZY_MODULES)) == MODULES
    html = client.get("/login").get_data(as_text=True)
    loaded = re.findall(r'<script type="module" src="/static/js/([\w-]+\.js)"></script>', html)
    assert loaded == list(pwa.SCRIPT_MODULES)
    for name in MODULES:  # what a listed module imports is listed too: no waterfall
        for imported in STATIC_IMPORT.findall(source(name)):
            assert imported in pwa.SCRIPT_MODULES, f"{name} imports {imported}"
    for name in pwa.LAZY_MODULES:
        assert f'import("./{name}")' in "".join(source(n) for n in pwa.SCRIPT_MODULES)
    shell = client.get("/sw.js").get_data(as_text=True)
    for name in MODULES:
        assert f'"/static/js/{name}"' in shell


@pytest.mark.parametrize("words", [
    "Put the extra aside", "is already packed", "is not an item on order", "is on hold",
    "Scan the lot", "Scan the serial", "How many", "not picked", "lot_required",
    "gtin_mismatch", "duplicate_serial", "over_pack", "not_on_order",
])
def test_no_script_holds_a_pack_rules_message_or_code(words):
    assert not [name for name in MODULES if words.lower() in source(name).lower()]


def test_no_script_parses_gs1():
    parser = re.compile(r'\b(AI|GS1_FIXED|GS1_VARIABLE|parseGs1)\b|\\x1d|"1[07]"|"21"')
    assert not [name for name in MODULES if parser.search(source(name))]
