"""The pack screen's panel: the order on the station, read after every pack scan."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row
from sqlalchemy.orm import Session

from .. import orders as orders_domain
from .. import settings as settings_domain
from ..errors import NotFound
from ..models import Order
from .cartons import open_carton_of
from .rules import PackNeeds, needs, picked_by_line


@dataclass
class PackPanel:
    """What the pack screen shows beside the scan: the order with its lines and items, the
    open carton, the lots picked for each line and what each line must record. Read after
    every pack scan, after its writes (``Flow.read_panel``)."""

    order: Order
    carton: Row | None  # the open carton: its id and number
    lots: dict[int, dict[str, list[int]]]
    needs: dict[int, PackNeeds]


def pack_panel(session: Session, number) -> PackPanel | None:
    """The panel of order ``number``, or None when there is no such order."""
    try:
        order = orders_domain.get_order(session, number)
    except NotFound:
        return None
    picked = picked_by_line(session, order.id)
    on = settings_domain.get_setting(session, settings_domain.REQUIRE_LOT_SERIAL_AT_PACK)
    return PackPanel(order, open_carton_of(session, order),
                     {line.id: picked.get(line.id, {}) for line in order.lines},
                     {line.id: needs(session, line.item, on) for line in order.lines})
