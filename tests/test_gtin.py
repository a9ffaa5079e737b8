import pytest

from lotline.errors import ValidationError
from lotline.gtin import normalize_gtin


@pytest.mark.parametrize("raw, expected", [
    ("4006381333931", "04006381333931"),   # GTIN-13
    ("96385074", "00000096385074"),        # GTIN-8
    ("036000291452", "00036000291452"),    # GTIN-12 (UPC-A)
    ("10614141000415", "10614141000415"),  # GTIN-14
    ("", None), (None, None),
])
def test_valid_gtins_normalise_to_14_digits(raw, expected):
    assert normalize_gtin(raw) == expected


@pytest.mark.parametrize("raw", ["4006381333932", "1234567", "abcdefghijklm", "40063813339311"])
def test_invalid_gtins_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_gtin(raw)
