"""Free text people type or import (an item's description, the customer fields, ship-to,
a vendor, a zone, the reason for a hold or an override, a station named over the API): one
rule for the characters it may hold."""

from __future__ import annotations

import unicodedata

from .errors import ValidationError

# Unicode's bidirectional controls (embeddings, overrides, isolates and the marks): they
# reorder what a reader sees, so a description or a ship-to could read differently on a
# slip from what it is ("Trojan Source").
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


def check_free_text(text: str, *, field: str, label: str, lines: bool = False) -> str:
    """``text`` as it is, or a refusal naming ``label``: no control character (a line break
    only where ``lines``, as in a ship-to address) and no bidirectional control."""
    for char in text:
        if char in BIDI_CONTROLS or (unicodedata.category(char) == "Cc"
                                     and not (lines and char == "\n")):
            raise ValidationError(
                f"{label} contains an invisible control character (U+{ord(char):04X}). Type "
                f"it again without it.", field=field)
    return text
