"""The installed app's routes: the service worker at the site root, the offline shell, the
manifest and its icons, and the CSP staying strict (no inline script or style)."""

from __future__ import annotations

import json
import re
import struct

import pytest

from blueprints import pwa

PLACEHOLDERS = ('"__LOTLINE_VERSION__"', '["__LOTLINE_SHELL__"]')


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def fetch(client, url: str):
    """GET ``url`` and close the response (static files are streamed from open files)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def strict_csp(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    # whole keywords: 'wasm-unsafe-eval' (WebAssembly only, for the camera decoder) is allowed
    words = csp.replace(";", " ").split()
    assert "'unsafe-inline'" not in words and "'unsafe-eval'" not in words
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp and "worker-src 'self'" in csp
    assert "manifest-src 'self'" in csp
    return csp


def test_service_worker_is_served_from_the_root_without_sign_in(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.get_data(as_text=True)
    for placeholder in PLACEHOLDERS:
        assert placeholder not in body
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', body).group(1)
    shell = json.loads(re.search(r"const SHELL = (\[.*\]);", body).group(1))
    assert shell[0] == "/offline"
    for url in ("/static/css/lotline.css", "/static/js/offline-queue.js",
                "/static/js/offline-pack.js", "/static/js/camera.js",
                "/static/js/htmx-4.0.1.min.js", "/static/manifest.webmanifest",
                "/static/icons/icon-192.png", "/static/icons/maskable-512.png",
                "/static/icons/icon.svg"):
        assert url in shell
    for url in shell:  # every precached URL is there (an install fails on one 404)
        assert fetch(client, url).status_code == 200, url
    assert client.get("/sw.js").get_data(as_text=True).count(version) == 1  # stable


def test_asset_version_is_a_hash_of_the_static_files_unless_overridden(app, client,
                                                                       monkeypatch):
    hashed = pwa._content_hash(app.static_folder, app.root_path + "/templates")
    assert hashed in client.get("/sw.js").get_data(as_text=True)
    monkeypatch.setenv("LOTLINE_ASSET_VERSION", "release-2")
    assert 'const VERSION = "release-2";' in client.get("/sw.js").get_data(as_text=True)
    app.config["LOTLINE_ASSET_VERSION"] = "release-3"  # app config wins over the environment
    assert 'const VERSION = "release-3";' in client.get("/sw.js").get_data(as_text=True)


def test_content_hash_changes_with_a_static_file(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    static.mkdir()
    templates.mkdir()
    (static / "a.css").write_text("a {}")
    (templates / "offline.html").write_text("offline")
    first = pwa._content_hash(str(static), str(templates))
    (static / "a.css").write_text("a { color: red }")
    pwa._content_hash.cache_clear()
    assert pwa._content_hash(str(static), str(templates)) != first


def test_offline_page_needs_no_sign_in_and_has_no_inline_code(client):
    response = client.get("/offline")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Set-Cookie" not in response.headers  # cached for the device, not for a session
    strict_csp(response)
    html = response.get_data(as_text=True)
    assert "You are offline" in html and 'data-testid="offline-shell"' in html
    assert 'rel="manifest"' in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script
    assert " style=" not in html and "<style" not in html  # no inline style


@pytest.mark.parametrize("path", ["/login", "/sw.js", "/offline", "/static/manifest.webmanifest"])
def test_csp_stays_strict(client, path):
    strict_csp(fetch(client, path))


def test_pages_link_the_manifest_and_the_touch_icon(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in html
    assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">' in html
    assert 'id="netbar"' in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)


def test_manifest_is_installable(client):
    response = fetch(client, "/static/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["name"] == "Lotline" and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#0b5394" and manifest["background_color"]
    pngs = {}
    for icon in manifest["icons"]:
        data = fetch(client, icon["src"]).data
        assert data, icon["src"]
        if icon["type"] == "image/png":
            width, height = png_size(data)
            assert icon["sizes"] == f"{width}x{height}"
            pngs[(icon["purpose"], width)] = icon["src"]
        else:
            assert icon["type"] == "image/svg+xml" and data.startswith(b"<svg")
    assert set(pngs) == {("any", 192), ("any", 512), ("maskable", 192), ("maskable", 512)}
    assert png_size(fetch(client, "/static/icons/apple-touch-icon.png").data) == (180, 180)


def test_flow_screens_offer_the_camera(as_role):
    packer = as_role("packer")
    html = packer.get("/put").get_data(as_text=True)
    assert 'data-camera' in html and ">Camera</button>" in html
