"""Rows of an uploaded CSV file, and refusals that name the file's own line (the header is
line 1) and say what to change in the file: a file is corrected and uploaded again, never
scanned."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import DomainError, ValidationError

T = TypeVar("T")


def line_error(n: int, message: str) -> ValidationError:
    """A refusal about line ``n`` of the file; ``message`` says what is wrong there and what
    to change."""
    return ValidationError(f"Line {n}: {message}", field="file")


def rows(text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
         ) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row with something in it, as (the line it starts on, {column: stripped value});
    column names are matched without case, missing cells are empty. A header without the
    ``required`` columns, a row with more cells than the header names, or text that is not
    CSV, is refused with its line."""
    reader = csv.reader(io.StringIO(text))
    columns = ", ".join((*required, *optional))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise line_error(1, f"the header row has no {', '.join(missing)} column. Make the "
                                f"first line of the file name the columns: {columns} (the "
                                f"required ones: {', '.join(required)}).")
        end = reader.line_num
        for record in reader:
            start, end = end + 1, reader.line_num
            values = [value.strip() for value in record]
            if not any(values):
                continue
            if any(values[len(header):]):
                raise line_error(start, (
                    f"this line has {len(values)} cells, but the header row names "
                    f"{len(header)} columns ({', '.join(header)}). Remove the extra cells, or "
                    f"put a value that holds a comma in double quotes."))
            yield start, {name: (values[i] if i < len(values) else "")
                          for i, name in enumerate(header) if name}
    except csv.Error as exc:
        raise line_error(reader.line_num, f"this is not readable CSV ({exc}). Check the "
                                          f"quotes on this line and save the file as CSV "
                                          f"again.") from exc


def cell(n: int, check: Callable[[str], T], value: str, fix: str) -> T:
    """``check(value)``, or the refusal of line ``n`` with ``fix`` (what is wrong in the file
    and what to change) in place of the scan screen's wording."""
    try:
        return check(value)
    except DomainError as exc:
        raise line_error(n, fix) from exc
