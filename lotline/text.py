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


_CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))]  # category Cc
_SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]  # what str.strip() takes off


def _char_class(chars) -> str:
    """A regex character class body for ``chars``, in ASCII escapes (Python, ECMAScript and
    Rust read ``\\uXXXX`` alike), with runs written as ranges."""
    codes, out = sorted({ord(c) for c in chars}), []
    start = prev = codes[0]
    for code in [*codes[1:], None]:
        if code is not None and code == prev + 1:
            prev = code
            continue
        out.append(f"\\u{start:04x}" + (f"-\\u{prev:04x}" if prev > start else ""))
        start = prev = code
    return "".join(out)


def free_text_pattern(*, lines: bool = False, required: bool = False) -> str:
    """:func:`check_free_text` as one regex (for the API's JSON Schema); with ``required``,
    the text also holds something besides spaces."""
    refused = {*_CONTROLS, *BIDI_CONTROLS} - ({"\n"} if lines else set())
    text = f"[^{_char_class(refused)}]*"
    if lines:  # a line break may also be written CR LF
        text = f"(?:[^{_char_class(refused)}]|\\r\\n)*"
    if not required:
        return f"^{text}$"
    return f"^{text}[^{_char_class(refused | set(_SPACES))}]{text}$"


def name_key(name: str) -> str:
    """A name as it is compared (a username): NFKC, case folded, so ``Pat``, ``PAT`` and
    ``ｐａｔ`` are one name (OWASP: user IDs are case-insensitive)."""
    return unicodedata.normalize("NFKC", name).casefold()


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
