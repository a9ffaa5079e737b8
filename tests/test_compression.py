"""Responses compressed where the browser accepts it (Flask-Compress): pages, htmx fragments
and static JS/CSS, with ``Vary: Accept-Encoding``; conditional requests still answer 304; a
scan submitted twice still applies once and says so, compressed or not."""

import gzip
from pathlib import Path

import brotli
import pytest
from sqlalchemy import func, select

from lotline.extensions import db
from lotline.models import LedgerEntry
from tests.conftest import _fresh_request_cache
from tests.test_flows import Scanner, qty, warehouse  # noqa: F401  (the fixture)

STATIC = Path(__file__).resolve().parent.parent / "static"
DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


def _vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}


@pytest.mark.parametrize("offered, chosen", [("gzip, deflate", "gzip"),
                                             ("gzip, deflate, br, zstd", "br"),
                                             ("br", "br")])
def test_a_page_is_compressed_as_the_browser_accepts(client, offered, chosen):
    response = client.get("/login", headers={"Accept-Encoding": offered})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == chosen
    assert {"accept-encoding", "hx-request"} <= _vary(response)
    html = DECODE[chosen](response.get_data()).decode()
    assert "<h1>Sign in</h1>" in html
    assert int(response.headers["Content-Length"]) == len(response.get_data()) < len(html)


def test_nothing_is_compressed_for_a_client_that_does_not_ask(client):
    response = client.get("/login")
    assert "Content-Encoding" not in response.headers
    assert "<h1>Sign in</h1>" in response.get_data(as_text=True)
    assert "accept-encoding" in _vary(response)  # a cache keeps the two versions apart


@pytest.mark.parametrize("path", ["js/htmx-4.0.1.min.js", "js/offline-pack.js", "css/lotline.css"])
@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_static_files_are_compressed_and_keep_answering_304(client, path, encoding):
    headers = {"Accept-Encoding": encoding}
    with client.get(f"/static/{path}", headers=headers) as response:  # closes the file
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert "accept-encoding" in _vary(response)
        body = response.get_data()
        assert int(response.headers["Content-Length"]) == len(body)
        assert DECODE[encoding](body) == (STATIC / path).read_bytes()
        etag = response.headers["ETag"]
    assert etag.endswith(f':{encoding}"')  # each encoding its own validator
    with client.get(f"/static/{path}", headers={**headers, "If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.get_data() == b""


def test_a_scan_fragment_is_compressed_and_a_repeated_scan_still_applies_once(
        client, as_role, warehouse):  # noqa: F811  (the fixture imported above)
    b = as_role("packer")
    s = Scanner(b, "/put")
    s.scan("A-01").scan("LOT-1").scan("L1")
    final = {**s.fields, "qty": "2"}
    headers = {"HX-Request": "true", "X-CSRFToken": b.token, "Accept-Encoding": "gzip, br"}
    answers = []
    for _ in range(2):
        _fresh_request_cache()
        response = client.post("/put", data=final, headers=headers)
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
        assert {"accept-encoding", "hx-request"} <= _vary(response)
        answers.append(brotli.decompress(response.get_data()).decode())
    assert "<html" not in answers[0] and "10 → 12" in answers[0]
    assert "already done" in answers[1] and "10 → 12" in answers[1]
    assert qty("A-01") == 12
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2
