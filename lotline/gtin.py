"""GTIN check-digit validation (GTIN-8, -12, -13, -14)."""

from .errors import ValidationError


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(value: str | None) -> str | None:
    """Validate a GTIN and return it as 14 digits; ``None`` or blank stays ``None``."""
    if value is None or not str(value).strip():
        return None
    digits = str(value).strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise ValidationError("A GTIN has 8, 12, 13 or 14 digits.", field="gtin")
    if check_digit(digits[:-1]) != int(digits[-1]):
        raise ValidationError(
            f"GTIN {digits} has a wrong check digit (expected {check_digit(digits[:-1])}).",
            field="gtin",
        )
    return digits.zfill(14)
