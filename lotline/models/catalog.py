"""Items, locations, lots and holds on lots."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import (
    LOCATION_TYPES,
    LOT_AT_PACK_MODES,
    one_of,
    utcnow,
)

if TYPE_CHECKING:
    from .accounts import User


class Item(db.Model):
    __tablename__ = "item"
    __table_args__ = (
        CheckConstraint(one_of("lot_at_pack", LOT_AT_PACK_MODES), name="lot_at_pack"),
        CheckConstraint("min_shelf_life_days >= 0", name="min_shelf_life"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    require_lot: Mapped[bool] = mapped_column(default=False)
    require_serial: Mapped[bool] = mapped_column(default=False)
    lot_at_pack: Mapped[str] = mapped_column(String(8), default="follow")
    min_shelf_life_days: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def lot_recorded_at_pack(self) -> bool:
        """Whether packing this item records a lot, when the system setting is on (rule 7)."""
        if self.lot_at_pack == "follow":
            return self.require_lot
        return self.lot_at_pack == "always"


class Location(db.Model):
    __tablename__ = "location"
    __table_args__ = (CheckConstraint(one_of("type", LOCATION_TYPES), name="type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    zone: Mapped[str] = mapped_column(String(32), default="")
    type: Mapped[str] = mapped_column(String(16), default="storage")
    active: Mapped[bool] = mapped_column(default=True)


class Lot(db.Model):
    __tablename__ = "lot"
    __table_args__ = (
        UniqueConstraint("item_id", "number"),
        # Lets inventory and ledger rows prove their lot belongs to their item.
        UniqueConstraint("id", "item_id", name="uq_lot_id_item"),
        Index("ix_lot_number", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    number: Mapped[str] = mapped_column(String(64))
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # True while the lot has an open hold (lots.hold sets it, lots.release clears it). Kept on
    # the lot row so the pack's one locking read (FOR SHARE of this row) sees a hold committed
    # while it waited: PostgreSQL re-reads the locked row, not the rows joined to it.
    on_hold: Mapped[bool] = mapped_column(server_default=false())

    item: Mapped[Item] = relationship()


class LotHold(db.Model):
    """A hold on a lot (a recall, a quality check): held lots are not picked until released."""

    __tablename__ = "lot_hold"
    __table_args__ = (Index("ix_lot_hold_lot_open", "lot_id", "released_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    reason: Mapped[str] = mapped_column(String(200))
    held_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    held_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    release_note: Mapped[str] = mapped_column(String(200), default="")

    lot: Mapped[Lot] = relationship()
    held_by: Mapped[User | None] = relationship(foreign_keys=[held_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])
