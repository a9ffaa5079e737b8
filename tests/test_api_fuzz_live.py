"""Schemathesis with every check and every phase (stateful too) against the API as it is
served under gunicorn, with the committed schemathesis.toml: a bounded round with a fixed
seed (``tools/api_fuzz.py`` runs the long one). Zero failures is the bar (issue 17)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import api_fuzz  # noqa: E402


def test_schemathesis_finds_nothing_with_the_committed_configuration(monkeypatch):
    pg = os.environ.get("TEST_DATABASE_URL", "")
    if pg.startswith("postgresql"):  # the suite's PostgreSQL run serves it from there too
        monkeypatch.setenv("DATABASE_URL", pg)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    # One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis calls it.
    status = api_fuzz.run(["--max-examples", "12", "--seed", "17", "--workers", "1",
                           "--no-color", "--output-truncate", "false"])
    assert status == 0, "schemathesis reported failures (its output is above)"
