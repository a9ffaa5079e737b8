"""Purchase orders and their lines."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import (
    utcnow,
)

if TYPE_CHECKING:
    from .catalog import Item


class PurchaseOrder(db.Model):
    __tablename__ = "purchase_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    vendor: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order", order_by="PurchaseOrderLine.id"
    )

    @property
    def status(self) -> str:
        if all(line.qty_received >= line.qty_ordered for line in self.lines):
            return "received"
        return "partial" if any(line.qty_received for line in self.lines) else "open"


class PurchaseOrderLine(db.Model):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "item_id"),
        CheckConstraint("qty_ordered > 0", name="qty_ordered_positive"),
        CheckConstraint("qty_received >= 0", name="qty_received_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_order.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    qty_ordered: Mapped[int] = mapped_column(Integer)
    qty_received: Mapped[int] = mapped_column(Integer, default=0)

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    @property
    def remaining(self) -> int:
        return max(self.qty_ordered - self.qty_received, 0)
