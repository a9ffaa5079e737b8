"""The navigation: each entry names its endpoint and the least role that may use it."""

from flask import current_app
from flask_login import current_user

NAV = [
    ("Receive", "inventory.receive", "packer"),
    ("Put", "inventory.put", "packer"),
    ("Pull", "inventory.pull", "packer"),
    ("Move", "inventory.move", "packer"),
    ("Cycle Count", "inventory.count", "packer"),
    ("Pick", "picking.index", "packer"),
    ("Pack", "packing.index", "packer"),
    ("Location lookup", "inventory.lookup", "packer"),
    ("Ledger", "ledger.index", "supervisor"),
    ("Dashboard", "dashboard.index", "supervisor"),
    ("Lot lookup", "lots.lookup", "supervisor"),
    ("Needs cycle count", "inventory.needs_count", "supervisor"),
    ("Items", "items.index", "supervisor"),
    ("Locations", "locations.index", "supervisor"),
    ("Purchase orders", "purchasing.index", "supervisor"),
    ("Orders", "orders.index", "supervisor"),
    ("Locked sign-ins", "sign_in_locks.index", "supervisor"),
    ("Settings", "admin.settings", "admin"),
    ("Users", "admin.users", "admin"),
    ("API tokens", "admin.tokens", "admin"),
]


def nav_entries() -> list[tuple[str, str]]:
    """The entries the signed-in user's role may use, for the screens that exist."""
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [(label, endpoint) for label, endpoint, role in NAV
            if endpoint in views and current_user.has_role(role)]
