"""Schemathesis hooks for Lotline's API (schemathesis.toml): how to write a valid value of
the document's own formats."""

from hypothesis import strategies as st
from schemathesis import openapi

from lotline.gtin import check_digit


def _gtin(length: int) -> st.SearchStrategy[str]:
    body = st.text("0123456789", min_size=length - 1, max_size=length - 1)
    return body.map(lambda digits: digits + str(check_digit(digits)))


# A GTIN-8, -12, -13 or -14 with its GS1 check digit (lotline.gtin.normalize_gtin).
openapi.format("gtin", st.one_of(*(_gtin(n) for n in (8, 12, 13, 14))))
