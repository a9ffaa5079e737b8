"""The pack station: lot and serial recording (spec: Lot Recording; PRODUCT.md rules 6–7).

Recorded lots are not tied to inventory and need not match the picked lot: a mismatch never
blocks. It is stored on the pack line, flagged for the supervisor, and the location it was
picked from goes on the Needs cycle count list, because its lot on record is now in doubt.


  rules     what a pack line must carry and may not exceed
  pack      the pack itself: one transaction, and its result
  panel     what the pack screen shows beside the scan
  cartons   the order's open carton, and closing it
"""

from .cartons import close_carton, open_carton, open_carton_of
from .pack import pack
from .panel import PackPanel, pack_panel
from .rules import (
    SERIAL_MAX,
    PackNeeds,
    asks_lot,
    check_room,
    check_serial,
    clean_serial,
    needs,
    order_line,
    packable,
    picked_lots,
)

__all__ = [
    "SERIAL_MAX", "PackNeeds", "PackPanel", "asks_lot", "check_room", "check_serial",
    "clean_serial", "close_carton", "needs", "open_carton", "open_carton_of", "order_line", "pack",
    "pack_panel", "packable", "picked_lots",
]
