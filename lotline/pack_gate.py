"""The pack gate's pieces beside ``packing.pack``: which of the lots a line was picked from
may not leave, asking for the lot scan, the units one lot's scan may cover, and a
supervisor's override (lotline.lot_gate has the rule itself)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import lot_gate
from .errors import DomainError, ValidationError
from .models import Lot, PackLine, PickLine
from .text import check_free_text


@dataclass(frozen=True)
class Override:
    """A supervisor letting one refused pack through (lotline.lot_gate): who, and why."""

    user_id: int
    username: str
    reason: str


def supervisor_override(user, reason) -> Override:
    """The override of ``user`` (signed in again at the station for it), with a reason."""
    if user is None or not user.has_role("supervisor"):
        raise DomainError("forbidden", "Only a supervisor may let a refused lot through.",
                          status=403, field="override_user")
    reason = str(reason or "").strip()
    if not 3 <= len(reason) <= 200:
        raise ValidationError("Say why it may leave (3 to 200 characters).",
                              field="override_reason")
    check_free_text(reason, field="override_reason", label="The reason")
    return Override(user.id, user.username, reason)


def unfit_picked(item, picked: dict, states: dict, today) -> dict:
    """The lots this line was picked from that may not leave: lot -> the refusal."""
    out = {}
    for number in sorted(picked):
        refused = lot_gate.refusal(item, number, states.get(number), today)
        if refused is not None:
            out[number] = refused
    return out


def check_units_of(session: Session, line_id: int, item, lot: str, qty: int,
                    unfit: dict) -> None:
    """A line picked from several lots, one of which may not leave: a scan of lot ``lot``
    packs at most the units picked of it and not yet packed as it; the rest may be the
    other lot's, so each of those is scanned with its own lot."""
    picked = session.scalar(
        select(func.coalesce(func.sum(PickLine.qty), 0)).join(Lot, Lot.id == PickLine.lot_id)
        .where(PickLine.order_line_id == line_id, func.upper(Lot.number) == lot.upper()))
    packed = session.scalar(
        select(func.coalesce(func.sum(PackLine.qty), 0))
        .where(PackLine.order_line_id == line_id, func.upper(PackLine.recorded_lot) == lot.upper()))
    if qty > picked - packed:
        raise DomainError("lot_required", f"Only {max(picked - packed, 0)} of lot {lot} of "
                          f"{item.sku} were picked and are not packed; lot "
                          f"{', '.join(unfit)} may not leave. Scan each unit's lot.",
                          field="qty")


def lot_asked(records_lot: bool, picked: dict, unfit: dict) -> bool:
    """The recording rule at pack: the lot in the packer's hand is asked for when the item
    records its lot at pack (``records_lot``), or when its line was picked from several lots
    (``picked``) and one of them may not leave (``unfit``)."""
    return records_lot or len(picked) > 1 and bool(unfit)


def ask_lot(item, picked: dict, unfit: dict) -> str:
    if not unfit:
        return f"Scan the lot of {item.sku} for this pack line."
    why = "; ".join(f"lot {n}: {e.code.replace('_', ' ')}" for n, e in unfit.items())
    return (f"{item.sku} was picked from lots {', '.join(sorted(picked))}, and {why}. Scan the "
            f"lot of the unit in your hand.")
