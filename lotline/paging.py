"""Paging for the supervisor lists: which page was asked for, and how many there are."""

from __future__ import annotations

from dataclasses import dataclass


def page_number(value) -> int:
    """The page asked for: a whole number from 1 up. Anything else (``abc``, ``-1``, ``0``,
    nothing) asks for the first page, which the list then says it shows."""
    try:
        return max(1, int(str(value).strip()))
    except (TypeError, ValueError):
        return 1


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` rows make; an empty list still has its one (empty) page."""
    return max(1, -(-total // per_page))


@dataclass
class Page:
    """One page of a searched list: its rows, how many match in all, which page of how many,
    and the search that was asked (cleaned)."""
    rows: list
    total: int
    page: int
    pages: int
    q: str = ""
