"""What each location holds, the ledger of every change, idempotency records, cycle-count
requests."""

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import (
    LEDGER_TYPES,
    one_of,
    utcnow,
)

if TYPE_CHECKING:
    from .accounts import User
    from .catalog import Item, Location, Lot


class Inventory(db.Model):
    """What one location holds of one item: at most one lot (rule 2), never below zero."""

    __tablename__ = "inventory"
    __table_args__ = (
        UniqueConstraint("location_id", "item_id", name="uq_inventory_location_item"),
        CheckConstraint("qty >= 0", name="qty_not_negative"),
        ForeignKeyConstraint(
            ["lot_id", "item_id"], ["lot.id", "lot.item_id"], name="fk_inventory_lot_of_item"
        ),
        Index("ix_inventory_lot", "lot_id"),
        Index("ix_inventory_item", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot_id: Mapped[int | None] = mapped_column(Integer)
    qty: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    location: Mapped[Location] = relationship()
    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship(
        primaryjoin="Inventory.lot_id == Lot.id", foreign_keys=[lot_id], viewonly=True
    )


class LedgerEntry(db.Model):
    """One inventory change. Written in the same transaction as the change it records."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(one_of("type", LEDGER_TYPES), name="type"),
        CheckConstraint("qty_after >= 0", name="qty_after_not_negative"),
        ForeignKeyConstraint(
            ["lot_id", "item_id"], ["lot.id", "lot.item_id"], name="fk_ledger_entry_lot_of_item"
        ),
        Index("ix_ledger_location_item", "location_id", "item_id"),
        Index("ix_ledger_lot", "lot_id"),
        Index("ix_ledger_created", "created_at"),
        Index("ix_ledger_item", "item_id", "id"),  # the ledger screen filters by item, by user
        Index("ix_ledger_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    lot_id: Mapped[int | None] = mapped_column(Integer)
    delta: Mapped[int] = mapped_column(Integer)
    qty_after: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    station: Mapped[str] = mapped_column(String(64), default="")
    reference: Mapped[str] = mapped_column(String(64), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    item: Mapped[Item] = relationship()
    location: Mapped[Location] = relationship()
    user: Mapped[User | None] = relationship()
    lot: Mapped[Lot | None] = relationship(
        primaryjoin="LedgerEntry.lot_id == Lot.id", foreign_keys=[lot_id], viewonly=True
    )


class IdempotencyRecord(db.Model):
    """The first result of a submission; a repeat of its key returns it and changes nothing."""

    __tablename__ = "idempotency_record"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    operation: Mapped[str] = mapped_column(String(32))
    result_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CountRequest(db.Model):
    """A (location, item) whose inventory is in doubt and needs a cycle count (and why)."""

    __tablename__ = "count_request"
    __table_args__ = (Index("ix_count_request_open", "location_id", "item_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    location: Mapped[Location] = relationship()
    item: Mapped[Item] = relationship()
