"""Scanner commands in the scan-flow engine: the ones every flow offers (Confirm, Cancel,
Station), how a submission carries one (a scanned text or a button's ``cmd``), and a
supervisor's override. A flow adds its own (``Flow.commands``); ``scanflow._command`` runs
them at the step the screen shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from lotline import commands
from lotline.commands import CANCEL, CONFIRM
from lotline.errors import DomainError

from .scantext import clean_scan, typed_number, without

if TYPE_CHECKING:
    from .scanflow import Flow, View


@dataclass
class Outcome:
    """What a command leaves: the form to walk next, and what to show."""

    form: MultiDict
    result: object = None
    options: dict = field(default_factory=dict)
    station: str | None = None  # CMD:STATION:<name>: this device's new station


@dataclass
class Command:
    """A scanner command a flow offers (lotline.commands has the texts).

    ``applies``: whether the screen as shown offers it; it may raise a DomainError saying
    what to do first. ``run`` does it: (session, view, form, actor, text) -> Outcome, or
    raises a DomainError shown at the step."""

    text: str
    hint: str  # "to close the carton": shown beside the step where it applies
    applies: Callable[[Session, View], bool]
    run: Callable[[Session, View, MultiDict, object, str], Outcome] | None


def take_command(flow: Flow, form) -> tuple[str | None, MultiDict]:
    """The command this submission carries, and the form without it: a command button's
    ``cmd``, or a command's text scanned into a field (the one that was asked for goes with
    it). CMD:CONFIRM scanned at a quantity is that quantity's value, not taken here."""
    text = clean_scan(form.get("cmd")) or None
    asked = form.get("step")
    for step in flow.steps:
        value = clean_scan(form.get(step.name))
        if text is None and commands.is_command(value) and not (
                step.quantity and commands.is_confirm(value)):
            text, asked = value, step.name
    if text is None:
        return None, form
    text = commands.normal(text)
    out = MultiDict(form)
    for name in ("cmd", asked, "redo", "step"):
        out.pop(name, None)
    if asked is None:  # an old page without its step: what was typed is not a value
        for step in flow.steps:
            if step.quantity:
                out.pop(step.name, None)
    return text, out


def overridden(flow: Flow, form, options: dict | None) -> tuple[MultiDict, dict | None]:
    """A refused quantity let through by a supervisor (Receive's over-receipt): the button,
    or CMD:CONFIRM scanned while the refusal is shown. The domain checks the role."""
    option, typed = form.get("override"), clean_scan(form.get("qty_override"))
    quantity = next((s.name for s in flow.steps if s.quantity), None)
    if option not in flow.override.values() or not typed or quantity is None or not (
            form.get(option) or commands.is_confirm(form.get(quantity))):
        return form, options
    shown = clean_scan(form.get(quantity))
    out = without(form, "override", "qty_override", option)
    out[quantity] = shown if typed_number(shown) else typed  # a number typed over it wins
    return out, {**(options or {}), option: True}


def _cancel(session, here: View, form, actor, text) -> Outcome:
    """Start the scan in progress over. The flow's kept values (the order) stay, unless
    nothing but them was scanned: then Cancel leaves them too (leaves the order)."""
    flow = here.flow
    kept = {name: here.state[name] for name in flow.keep if name in here.state}
    if kept and set(here.state) == set(kept):
        if flow.leave is not None:
            flow.leave(session, kept, actor)
        kept = {}
    out = MultiDict(kept)
    for name in flow.carry:
        if form.get(name) and kept and name not in flow.per_scan:
            out[name] = form[name]
    return Outcome(out)


def offered_by(flow: Flow) -> list[Command]:
    """The commands every flow offers, then the flow's own."""
    return [
        # Scanned at a quantity it is that quantity's value (the walk reads it); anywhere
        # else it does nothing, so it is never run.
        Command(CONFIRM, "to confirm the quantity shown",
                lambda session, view: view.current.quantity, None),
        Command(CANCEL, "to start this scan over", lambda session, view: True, _cancel),
        Command(commands.STATION, "", lambda session, view: True, _set_station),
        *flow.commands,
    ]


def _set_station(session, here: View, form, actor, text) -> Outcome:
    return Outcome(form, station=commands.station_name(text),
                   result=Note(f"This device is station {commands.station_name(text)}."))


@dataclass
class Note:
    """A result that is only a message (a command's answer)."""

    message: str
    reference: str = ""  # the order it is about, when it is about one
    changes: tuple = ()
    replayed: bool = False
    code: str | None = None  # as a change's Result has (already_submitted)

    @property
    def messages(self) -> list[str]:
        return [self.message]


def offers(command: Command, session, view: View) -> bool:
    try:
        return command.applies(session, view)
    except DomainError:
        return False
