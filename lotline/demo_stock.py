"""Demo locations and stock (filled in by the inventory layer)."""


def seed_stock(session) -> list[str]:
    return []
