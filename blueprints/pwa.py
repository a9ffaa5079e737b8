"""The installed app (PWA): the service worker served from the site root, and the offline
shell it falls back to. Neither needs sign-in: the browser fetches the worker on its own, and
the shell must open on a device whose session is gone.

The worker's cache is named after a hash of the static files' contents (computed once per
process), so a release that changes any of them installs a new worker whose activation
deletes the old cache. ``LOTLINE_ASSET_VERSION`` (app config, else environment) overrides the
hash, e.g. to tell two releases apart in tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, url_for

from . import accepts

bp = Blueprint("pwa", __name__)

ICONS = ("icon.svg", "icon-192.png", "icon-512.png", "maskable-192.png", "maskable-512.png",
         "apple-touch-icon.png")
# The ES modules every page loads (base.html lists them all, so they load at once), one job
# each; camera.js is imported when the Camera button is first pressed.
SCRIPT_MODULES = ("csrf.js", "dom.js", "scan-field.js", "feedback.js", "netbar.js",
                  "connection.js", "offline-queue.js", "offline-pack.js", "install.js",
                  "select-all.js", "mainnav.js")
LAZY_MODULES = ("camera.js",)
bp.record_once(lambda state: state.app.jinja_env.globals.update(script_modules=SCRIPT_MODULES))


@cache
def _content_hash(static_folder: str, templates_folder: str) -> str:
    """A short hash of every static file and the offline shell's template."""
    digest = hashlib.sha256()
    static = Path(static_folder)
    files = [(str(p.relative_to(static)), p) for p in sorted(static.rglob("*")) if p.is_file()]
    files.append(("templates/offline.html", Path(templates_folder) / "offline.html"))
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def asset_version() -> str:
    override = current_app.config.get("LOTLINE_ASSET_VERSION") or \
        os.environ.get("LOTLINE_ASSET_VERSION")
    if override:
        return str(override)
    return _content_hash(current_app.static_folder,
                         str(Path(current_app.root_path) / current_app.template_folder))


def shell_urls() -> list[str]:
    """What the worker precaches: the offline page, the scripts (every module, so the shell
    and an open pack screen work offline), the style, the icons."""
    static = [
        "css/lotline.css",
        *(f"js/{name}" for name in (*SCRIPT_MODULES, *LAZY_MODULES)),
        current_app.jinja_env.globals["htmx_js"],
        "manifest.webmanifest",
        *(f"icons/{name}" for name in ICONS),
    ]
    return [url_for("pwa.offline"), *(url_for("static", filename=name) for name in static)]


@bp.get("/sw.js")
@accepts()
def service_worker():
    source = (Path(current_app.static_folder) / "js" / "sw.js").read_text(encoding="utf-8")
    source = source.replace('"__LOTLINE_VERSION__"', json.dumps(asset_version()), 1)
    source = source.replace('["__LOTLINE_SHELL__"]', json.dumps(shell_urls()), 1)
    response = Response(source, mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
@accepts()
def offline():
    response = Response(render_template("offline.html"), mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response
