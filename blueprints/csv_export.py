"""The one CSV writer every export goes through (ledger, recall): text cells that a
spreadsheet would run as a formula (=, +, -, @, tab, CR first) are written as text, numbers
as numbers, and the download's file name holds only safe characters."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500


def cell(value):
    """A value as a spreadsheet shows it, never as a formula."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def safe_filename(stem: str) -> str:
    """``stem`` as a file name: letters, digits, dot, dash, underscore; at most 100."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(stem)).strip("-.")[:100]
    return (name or "export") + ".csv"


def csv_response(rows: Iterable[Iterable], stem: str, status: int = 200) -> Response:
    """Stream ``rows`` (the header first) as a CSV download named after ``stem``."""

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for n, row in enumerate(rows, start=1):
            writer.writerow([cell(value) for value in row])
            if n % CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = safe_filename(stem)
    return Response(stream_with_context(generate()), status=status, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
