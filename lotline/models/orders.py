"""Customer orders, their lines, pick lines, cartons and pack lines."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import (
    CARTON_STATUSES,
    ORDER_STATUSES,
    one_of,
    utcnow,
)

if TYPE_CHECKING:
    from .accounts import ApiToken, LoginThrottle, User
    from .catalog import Item, Location, Lot, LotHold
    from .purchasing import PurchaseOrder, PurchaseOrderLine
    from .settings import Setting, SettingChange
    from .stock import CountRequest, IdempotencyRecord, Inventory, LedgerEntry


class Order(db.Model):
    """A customer order: what is picked (lot assumed) and packed (lot recorded)."""

    __tablename__ = "customer_order"
    __table_args__ = (CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
                      Index("ix_customer_order_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_name: Mapped[str] = mapped_column(String(100))
    customer_ref: Mapped[str] = mapped_column(String(64), default="")
    ship_to: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The pack station that has the order open (CMD:NEXT offers an order no other station
    # has open), and since when it was last worked on there.
    packing_station: Mapped[str | None] = mapped_column(String(64))
    packing_since: Mapped[dt.datetime | None] = mapped_column(DateTime)

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order",
                                                  order_by="OrderLine.id")
    cartons: Mapped[list[Carton]] = relationship(back_populates="order", order_by="Carton.id")


class OrderLine(db.Model):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "item_id"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("qty_picked >= 0 AND qty_short >= 0 AND qty_packed >= 0",
                        name="counts_not_negative"),
        CheckConstraint("qty_picked + qty_short <= qty", name="not_over_picked"),
        CheckConstraint("qty_packed <= qty", name="not_over_packed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    qty: Mapped[int] = mapped_column(Integer)
    qty_picked: Mapped[int] = mapped_column(Integer, default=0)
    qty_short: Mapped[int] = mapped_column(Integer, default=0)
    qty_packed: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()
    picks: Mapped[list[PickLine]] = relationship(back_populates="order_line",
                                                 order_by="PickLine.id")

    @property
    def to_pick(self) -> int:
        return self.qty - self.qty_picked - self.qty_short


class PickLine(db.Model):
    """One pick from one location. The lot is assumed: copied from the inventory record."""

    __tablename__ = "pick_line"
    __table_args__ = (
        CheckConstraint("qty >= 0 AND qty_short >= 0 AND qty + qty_short > 0", name="qty"),
        ForeignKeyConstraint(["lot_id", "item_id"], ["lot.id", "lot.item_id"],
                             name="fk_pick_line_lot_of_item"),
        Index("ix_pick_line_lot", "lot_id"),
        Index("ix_pick_line_order_line", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))  # None: short
    lot_id: Mapped[int | None] = mapped_column(Integer)
    qty: Mapped[int] = mapped_column(Integer)
    qty_short: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    station: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order_line: Mapped[OrderLine] = relationship(back_populates="picks")
    location: Mapped[Location | None] = relationship()
    lot: Mapped[Lot | None] = relationship(
        primaryjoin="PickLine.lot_id == Lot.id", foreign_keys=[lot_id], viewonly=True)
    user: Mapped[User | None] = relationship()


class Carton(db.Model):
    __tablename__ = "carton"
    __table_args__ = (
        UniqueConstraint("order_id", "number"),
        CheckConstraint(one_of("status", CARTON_STATUSES), name="status"),
        CheckConstraint("weight_grams IS NULL OR weight_grams > 0", name="weight_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="open")
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    station: Mapped[str] = mapped_column(String(64), default="")
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    order: Mapped[Order] = relationship(back_populates="cartons")
    lines: Mapped[list[PackLine]] = relationship(back_populates="carton",
                                                 order_by="PackLine.id")


class PackLine(db.Model):
    """What went into a carton: the recorded lot (not tied to inventory), the serial, and the
    lot(s) picked, so a mismatch is stored and reported rather than blocking."""

    __tablename__ = "pack_line"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("serial IS NULL OR qty = 1", name="one_unit_per_serial"),
        UniqueConstraint("item_id", "serial", name="uq_pack_line_item_serial"),
        Index("ix_pack_line_recorded_lot", "recorded_lot"),
        Index("ix_pack_line_order_line", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    carton_id: Mapped[int] = mapped_column(ForeignKey("carton.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    qty: Mapped[int] = mapped_column(Integer)
    recorded_lot: Mapped[str | None] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(64))
    picked_lots: Mapped[str] = mapped_column(String(200), default="")
    lot_mismatch: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    station: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # A lot that might not leave (lotline.lot_gate), let through by a supervisor: who, why.
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    override_reason: Mapped[str | None] = mapped_column(String(200))

    carton: Mapped[Carton] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
    item: Mapped[Item] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id])


__all__ = [
    "LotHold", "Carton", "CountRequest", "Order", "OrderLine", "PackLine", "PickLine",
    "ApiToken", "IdempotencyRecord", "Inventory", "Item", "LedgerEntry", "Location",
    "LoginThrottle", "Lot", "PurchaseOrder", "PurchaseOrderLine", "Setting", "SettingChange",
    "User", "func",
]
