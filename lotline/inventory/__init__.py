"""Inventory: the lot rules, the changes that obey them, and what they are made of.

  rules         the lot rules and the checks of what was scanned (one place each)
  changes       Actor, Result, the location locks, the lot named, a quantity changed
  idempotency   a change sent twice is applied once
  transactions  Put, Pull, Move, Cycle Count, PO Putaway
  purchasing    purchase orders
  counts        the Needs cycle count list
  stock         what the locations hold; inventory against the ledger
"""

from .changes import Actor, Change, Result, adjust, lock_locations, scanned_code
from .counts import NeedsCount, count_requested, needs_cycle_count, request_count
from .idempotency import already_done, run_once
from .purchasing import (
    PurchaseOrderPage,
    create_purchase_order,
    get_purchase_order,
    page_purchase_orders,
    purchase_order_line,
)
from .rules import (
    MAX_QTY,
    active_location,
    check_destination,
    check_source,
    clean_lot,
    clean_qty,
    inventory_at,
    required_lot,
    verify_lot,
)
from .stock import ledger_mismatches, query_inventory
from .transactions import cycle_count, move, pull, put, putaway

__all__ = [
    "MAX_QTY", "Actor", "Change", "NeedsCount", "PurchaseOrderPage", "Result",
    "active_location", "adjust", "already_done", "check_destination", "check_source",
    "clean_lot", "clean_qty", "count_requested", "create_purchase_order", "cycle_count",
    "get_purchase_order", "inventory_at", "ledger_mismatches", "lock_locations", "move",
    "needs_cycle_count", "page_purchase_orders", "pull", "purchase_order_line", "put",
    "putaway", "query_inventory", "request_count", "required_lot", "run_once",
    "scanned_code", "verify_lot",
]
