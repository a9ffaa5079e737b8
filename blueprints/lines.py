"""The "SKU quantity" lines box shared by the purchase order and order forms."""

import re

MAX_LINES = 500
LINE_SPLIT = re.compile(r"[\s,;]+")
WHOLE_NUMBER = re.compile(r"[+-]?\d{1,9}")
DOMAIN_LINE = re.compile(r"^Line (\d+):")


class LinesError(ValueError):
    """A line of the Lines box that is not “SKU quantity”."""


def parse_lines(text: str) -> tuple[list[dict], list[int]]:
    """``"SKU-1 12"`` per line → ``[{"sku", "qty"}]`` and the box's line number of each entry.

    Blank lines are skipped. SKUs hold no spaces or commas, so space, tab (a spreadsheet
    paste), comma or semicolon may separate the SKU from the quantity.
    """
    entries, numbers = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = LINE_SPLIT.split(line)
        if len(parts) != 2:
            raise LinesError(f"Line {n}: “{line}” is not “SKU quantity”. Write the SKU, a "
                             f"space, then the quantity, e.g. “SKU-1 12”.")
        sku, qty = parts
        if not WHOLE_NUMBER.fullmatch(qty):
            raise LinesError(f"Line {n}: the quantity “{qty}” is not a whole number.")
        entries.append({"sku": sku, "qty": int(qty)})
        numbers.append(n)
    if len(entries) > MAX_LINES:
        raise LinesError(f"A form takes at most {MAX_LINES} lines.")
    return entries, numbers


def box_line(message: str, numbers: list[int]) -> str:
    """The domain numbers the entries it was given; name the box's line instead."""
    match = DOMAIN_LINE.match(message)
    if not match or not 0 < int(match.group(1)) <= len(numbers):
        return message
    return f"Line {numbers[int(match.group(1)) - 1]}:{message[match.end():]}"
