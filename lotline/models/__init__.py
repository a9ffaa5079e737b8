"""SQLAlchemy 2 typed models, one module per area. The database states every invariant it
can. Import them from here: ``from lotline.models import Item, Lot``."""

from .accounts import ApiToken, LoginThrottle, User, UserSession
from .base import (
    CARTON_STATUSES,
    LEDGER_TYPES,
    LOCATION_TYPES,
    LOT_AT_PACK_MODES,
    ORDER_STATUSES,
    ROLES,
    utc_stamp,
    utcnow,
)
from .catalog import Item, Location, Lot, LotHold
from .orders import Carton, Order, OrderLine, PackLine, PickLine
from .purchasing import PurchaseOrder, PurchaseOrderLine
from .settings import Setting, SettingChange
from .stock import CountRequest, IdempotencyRecord, Inventory, LedgerEntry

__all__ = [
    "CARTON_STATUSES", "LEDGER_TYPES", "LOCATION_TYPES", "LOT_AT_PACK_MODES", "ORDER_STATUSES",
    "ROLES", "ApiToken", "Carton", "CountRequest", "IdempotencyRecord", "Inventory", "Item",
    "LedgerEntry", "Location", "LoginThrottle", "Lot", "LotHold", "Order", "OrderLine",
    "PackLine", "PickLine", "PurchaseOrder", "PurchaseOrderLine", "Setting", "SettingChange",
    "User", "UserSession", "utc_stamp", "utcnow",
]
