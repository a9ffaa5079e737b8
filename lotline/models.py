"""SQLAlchemy 2 typed models. The database states every invariant it can."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

ROLES = ("packer", "supervisor", "admin")
LOT_AT_PACK_MODES = ("follow", "always", "never")
LOCATION_TYPES = ("receiving", "storage", "pack")
LEDGER_TYPES = (
    "putaway", "put", "pull", "move-out", "move-in", "cycle-count", "pick", "hold", "release",
    "return",
)
ORDER_STATUSES = ("open", "picking", "picked", "packing", "packed", "shipped", "cancelled")
CARTON_STATUSES = ("open", "closed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated user cannot sign in
        return self.active

    def has_role(self, *roles: str) -> bool:
        """Roles are ordered: admin > supervisor > packer; a higher role may do what a lower may."""
        return ROLES.index(self.role) >= min(ROLES.index(r) for r in roles)


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Bookkeeping: any request with the token may stamp it (tests/test_get_changes_nothing.py
    # leaves such columns out of its "GET changed nothing" checksum).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime,
                                                             info={"bookkeeping": True})
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-ins per username; too many in a window locks the name for a while."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Item(db.Model):
    __tablename__ = "item"
    __table_args__ = (
        CheckConstraint(_in("lot_at_pack", LOT_AT_PACK_MODES), name="lot_at_pack"),
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


class Setting(db.Model):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SettingChange(db.Model):
    """Who changed which system setting, when, from what to what."""

    __tablename__ = "setting_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class Location(db.Model):
    __tablename__ = "location"
    __table_args__ = (CheckConstraint(_in("type", LOCATION_TYPES), name="type"),)

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
        CheckConstraint(_in("type", LEDGER_TYPES), name="type"),
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


class Order(db.Model):
    """A customer order: what is picked (lot assumed) and packed (lot recorded)."""

    __tablename__ = "customer_order"
    __table_args__ = (CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
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
        CheckConstraint(_in("status", CARTON_STATUSES), name="status"),
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
