"""The scan-flow engine every scan screen uses (SCAN-UX.md), built once.

A flow is a list of steps; each step is one labelled field. The accepted values ride in
the form as hidden fields, so the server is stateless: every submission re-checks every
accepted value in order (through the domain), the first missing one is the current step,
and when none is missing the flow commits through one domain function. A refusal clears
only the step it names and keeps the rest, so "scan another location" is one scan.

There is one walk: a confirm (a submission carrying every step's value and a quantity) is
walked like any other scan, and commits when every step has its value (on PostgreSQL the
walk and the change are one transaction that takes the flow's locks first; on SQLite the
walk reads and the change takes the write lock for its own transaction). A submission whose
key already committed (a tablet re-sending on a flaky network) is answered with its first
result: a confirm when its key's record, written last, is refused as a duplicate (its unit
of work is rolled back) or when its walk is refused (the stock it wanted is gone); any
other submission before it is walked.

What a packer does with a scanner in hand (Put, for example):
  1. "Scan the location": scans A-01-02's label; Enter is sent by the scanner.
  2. "Scan the item": scans the product's barcode (SKU or GTIN).
  3. "Scan the lot" (only for lot-tracked items): scans the lot on the product's label.
  4. "Quantity": 1 is filled in; scanning the item again adds one, or types a number;
     Enter (or the printed CMD:CONFIRM barcode) confirms.
  5. The result line shows "A-01-02 · VIT-C-500 · VC24A01: 25 → 26" with a beep, and the
     screen is back at step 1 for the next put. CMD:CANCEL starts over at any step.
A refused step beeps low twice, shows a red panel saying what to do, and the field that
expects the next scan has focus again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import make_response, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from lotline import commands
from lotline.db import is_postgres, run_in_transaction, transaction
from lotline.errors import DomainError, NotFound
from lotline.extensions import db
from lotline.inventory import already_done

from . import page_or_fragment
from .scancommands import Command, offered_by, offers, overridden, take_command
from .scantext import (
    clean_scan,
    expand_gs1,
    is_item_scan,
    new_key,
    typed_number,
    without,
)


def ALWAYS(session, state) -> bool:
    """A step that every run of its flow has."""
    return True


@dataclass
class Step:
    name: str
    label: str
    prompt: str | Callable[[Session, View], str]  # a text, or one made for the screen
    check: Callable[[Session, str, dict], str]
    applies: Callable[[Session, dict], bool] = ALWAYS
    info: Callable[[Session, dict], str | None] = lambda session, state: None
    quantity: bool = False  # a number, default 1; a repeated item scan adds one
    default: Callable[[Session, dict], int | None] = lambda session, state: None
    # Carried fields this step's check reads besides the accepted values (Pick's location
    # step: the locations skipped, so its refusal directs where the screen's task does).
    reads: tuple[str, ...] = ()
    # Called once when this step's value has just been scanned (not when it rides along
    # as an accepted value): (session, value, actor). Pack opens the order at the station.
    opened: Callable | None = None


@dataclass
class Flow:
    name: str
    title: str
    endpoint: str
    steps: list[Step]
    commit: Callable  # (session, state, actor, key, options) -> Result
    done_word: str = "Done"
    redo_on: dict[str, str] = field(default_factory=dict)  # error code -> step to clear
    override: dict[str, str] = field(default_factory=dict)  # error code -> option name
    # A supervisor signing in again at the station to let a refusal through (Pack's gate):
    # (session, form) -> the commit's options; it raises when they may not.
    step_up: Callable | None = None
    keep: tuple[str, ...] = ()  # steps that stay accepted after a commit (e.g. the order)
    panel: str | None = None  # a template shown beside the step (e.g. the order's lines)
    # What that template shows: (session, view) -> its variables. Read after the scan (on
    # PostgreSQL in the scan's own unit of work when it commits, after its writes).
    read_panel: Callable[[Session, View], dict] | None = None
    carry: tuple[str, ...] = ()  # extra hidden fields carried between scans
    per_scan: tuple[str, ...] = ()  # carried fields that end when the scan commits
    commands: list[Command] = field(default_factory=list)  # besides Confirm, Cancel, Station
    # The kept steps' work is over (the order is picked): (session, view of the kept
    # values) -> bool; the screen then asks for the first step again.
    finished: Callable[[Session, View], bool] | None = None
    # A value scanned at a later step that names another kept value (an order number at
    # Pack's item step): (session, raw, state, actor) -> the form to walk, None when it is
    # not one, or a DomainError saying what to do first.
    switch: Callable | None = None
    # The kept values are dropped (Cancel at the first step after them): (session, kept, actor)
    leave: Callable | None = None
    # What a scan that commits locks before its steps read anything (the rows its commit
    # changes, in the domain's lock order), on PostgreSQL: (session, form) -> None. A value
    # that names nothing is left to its step to refuse. (SQLite: the change's transaction
    # takes the database's write lock; the walk before it only reads.)
    lock: Callable | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every request parameter the flow reads (its route declares them)."""
        return (*(s.name for s in self.steps), *self.carry, *ENGINE_FIELDS)


ENGINE_FIELDS = ("idem", "step", "cmd", "redo", "qty_pending", "expiry")


@dataclass
class View:
    flow: Flow
    state: dict
    current: Step | None = None
    error: DomainError | None = None
    result: object = None
    info: str | None = None
    prompt: str = ""
    prefill: str = ""
    pending_qty: int = 1
    key: str = ""
    feedback: str | None = None
    override: str | None = None
    refused_value: str = ""  # the value refused, for a supervisor to let through
    step_up: dict = field(default_factory=dict)  # a failed step-up's name and reason, kept
    done: list[Step] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    offers: list[Command] = field(default_factory=list)  # commands that apply here
    station: str | None = None  # set this device's station (CMD:STATION:<name>)
    memo: dict = field(default_factory=dict)  # what a flow's hooks read once per screen
    panel: dict | None = None  # the panel's variables, once read (Flow.read_panel)


def advance(flow: Flow, session: Session, form, actor, options: dict | None = None) -> View:
    """Check every accepted value, find the current step, commit when all are in. A command
    scanned (or a command button tapped) is run first (:func:`_command`)."""
    key = form.get("idem") or new_key()
    extra = {name: form.get(name, "") for name in (*flow.carry, "expiry")}
    form, options = overridden(flow, form, options)
    text, form = take_command(flow, form)
    if text is not None:
        return _command(flow, session, form, actor, text, key, extra)
    try:
        form = expand_gs1(flow, session, form, extra)
    except DomainError as exc:
        # An unreadable label: forget that scan, walk the flow as usual, and say why.
        form = MultiDict(form)
        form.pop(exc.details.get("field"), None)
        view = _walk(flow, session, form, actor, options, key, extra)
        view.error, view.feedback, view.result = exc, "error", None
        return view
    if flow.step_up is not None and form.get("override") in flow.override.values():
        try:  # a supervisor's step-up at the station: the commit's options, or why not
            options = {**(options or {}), **flow.step_up(session, form)}
        except DomainError as exc:
            view = _walk(flow, session, without(form, "override"), actor, options, key, extra,
                         commit=False)
            view.error, view.feedback = exc, "error"
            if view.current is not None:  # the form stays, for the supervisor to try again
                _offer_override(view, form, form.get("override"))
                view.step_up = {name: str(form.get(name) or "")[:200]
                                for name in ("override_user", "override_reason")}
            return view
        form = without(form, "override", "override_user", "override_password")
    redo = form.get("redo")
    if redo in flow.keep and flow.leave is not None and clean_scan(form.get(redo)):
        try:  # the kept value's chip: leaving it follows the flow's rule, as Cancel does
            flow.leave(session, {redo: clean_scan(form.get(redo))}, actor)
        except DomainError as exc:
            view = _walk(flow, session, without(form, "redo"), actor, options, key, extra)
            view.error, view.feedback = exc, "error"
            return view
    if not _commits(flow, form):
        view = _walk_once(flow, session, form, actor, options, key, extra)
    elif not is_postgres(session):
        # SQLite: the walk reads in a read transaction, the change takes the database's
        # write lock for its own transaction (its rules checked again there) and the screen
        # is read after it. A scan holding SQLite's one write lock through its walk and
        # panel left the other worker waiting in SQLite's busy handler: 500 stations went
        # past 5 s at p99 (bench/RESULTS.md, issue 16). Its key is not looked up first,
        # as below.
        view = _walk(flow, session, form, actor, options, key, extra)
    else:
        # PostgreSQL: a submission that carries its last step's value commits when its steps
        # pass: it is walked inside its write transaction, after taking the flow's locks, so
        # the rows its steps read are the rows its commit uses (read once, not once to check
        # and again under the lock to write: each is a round trip to the server), and the
        # panel is read after the writes, in the same transaction.
        def unit() -> View:
            if flow.lock is not None:
                flow.lock(session, form)
            # Its key is not looked up first: a copy of a submission already applied fails
            # to write the key's record, last, and is answered with the first result
            # (lotline.db.run_in_transaction); one refused looks for it below.
            view = _walk(flow, session, form, actor, options, key, extra)
            view.panel = _panel(flow, session, view)
            return view

        # Run again from the start if the commit failed in a way worth retrying (a
        # deadlock, a unique-key race: lotline.db.retryable).
        view = run_in_transaction(session, unit, expire_on_commit=False)
    if view.error is not None and form.get("idem"):
        # A copy of this submission (a tablet re-sending at once) may have been applied
        # while this one was walked, taking the stock it was refused for: look again, in a
        # read that starts now, and answer as the copy was answered.
        with transaction(session, write=False):
            done = already_done(session, actor, form.get("idem"))
        if done is not None:
            return _committed(flow, session, form, done, extra)
    return view


def locking(take: Callable, *names: str) -> Callable:
    """A flow's ``lock``: ``take(session, *values)`` with the values scanned for the steps
    ``names``, cleaned (an empty string where there is none). A value that names nothing
    is not refused here: its step refuses it, in its own words, when the walk reaches it."""
    def lock(session: Session, form) -> None:
        try:
            take(session, *(clean_scan(form.get(name)) for name in names))
        except DomainError:
            pass
    return lock


def _panel(flow: Flow, session: Session, view: View) -> dict:
    return flow.read_panel(session, view) if flow.read_panel is not None else {}


def _commits(flow: Flow, form) -> bool:
    """Whether this submission reaches its commit if every step passes: it carries a value
    for the flow's last step, a number or Confirm where that is the quantity (an item
    scanned there adds one; that writes nothing and takes no lock).
    Which steps apply is known only once they are walked: a confirm whose flow's last step
    does not apply to it (Count's lot for an item without lots or a count of 0, a serial
    pack's quantity) commits from its walk instead, in a transaction of its own."""
    last = flow.steps[-1]
    raw = clean_scan(form.get(last.name))
    if not raw or form.get("redo"):
        return False
    return not last.quantity or typed_number(raw) or commands.is_confirm(raw)


def _walk_once(flow: Flow, session: Session, form, actor, options, key: str,
               extra: dict) -> View:
    """The walk, unless this exact submission already went through (a tablet re-sending
    on a flaky network): then its first result."""
    done = already_done(session, actor, form.get("idem"))
    if done is not None:
        return _committed(flow, session, form, done, extra)
    return _walk(flow, session, form, actor, options, key, extra)


def preview(flow: Flow, session: Session, args, actor) -> View:
    """A screen opened with its steps in the query string (a link may prefill them): the
    steps are checked and shown, a quantity only fills its field, and nothing commits."""
    quantities = {s.name for s in flow.steps if s.quantity}
    form = MultiDict({k: clean_scan(v) for k, v in args.items()
                      if k in {s.name for s in flow.steps} - quantities
                      and not commands.is_command(v)})
    view = _walk(flow, session, form, actor, None, new_key(), {}, commit=False)
    typed = next((clean_scan(args.get(n)) for n in quantities if args.get(n)), "")
    if view.current is not None and view.current.quantity and typed_number(typed):
        view.prefill = typed
    return view


def _command(flow: Flow, session: Session, form, actor, text: str, key: str,
             extra: dict) -> View:
    """Run a scanned command at the step the screen shows; refused where it does not apply."""
    here = _walk(flow, session, form, actor, None, key, extra, commit=False)
    command = next((c for c in offered_by(flow) if c.text == text or (
        c.text.endswith(":") and text.startswith(c.text))), None)
    try:
        offered = command is not None and here.current is not None and \
            command.applies(session, here)
    except DomainError as exc:  # it applies here, but not now: say what to do first
        here.error, here.feedback = exc, "error"
        return here
    if not offered:
        prompt = f" {here.prompt}." if here.current is not None else ""
        code, what = ("command_not_here", "does nothing at this step") if \
            commands.known(text) else ("unknown_command", "is not a command Lotline knows")
        here.error, here.feedback = DomainError(code, f"{text} {what}.{prompt}"), "error"
        return here
    try:
        outcome = command.run(session, here, MultiDict(form), actor, text)
    except DomainError as exc:
        here.error, here.feedback = exc, "error"
        return here
    kept = {name: outcome.form[name] for name in flow.keep if outcome.form.get(name)}
    if kept and flow.finished is not None and flow.finished(session, View(flow, kept)):
        outcome.form = MultiDict()  # its work is over (the last line recorded short)
    view = advance(flow, session, outcome.form, actor, outcome.options)
    if outcome.result is not None and view.error is None:
        view.result, view.feedback = outcome.result, "success"
    view.station = outcome.station
    return view


def _walk(flow: Flow, session: Session, form, actor, options, key: str, extra: dict,
          commit: bool = True) -> View:
    """Check the accepted values in order; the first missing one is the current step.
    ``commit``: when every step has its value, commit (else show the last step)."""
    redo = form.get("redo")
    state: dict = {}
    done: list[Step] = []
    last = None
    for step in flow.steps:
        if not step.applies(session, state):
            continue
        raw = None if step.name == redo else clean_scan(form.get(step.name))
        view = View(flow, state, current=step, key=key, done=done, extra=extra)
        if not raw:
            _carry(flow, form, state, step)
            return _at(view, session)
        if step.quantity:
            pending = int(form.get("qty_pending") or 1) if \
                str(form.get("qty_pending") or "1").isdigit() else 1
            if commands.is_confirm(raw):
                raw = str(pending)
            elif not typed_number(raw) and is_item_scan(session, raw, state):
                view.pending_qty = pending + 1
                view.prefill = str(pending + 1)
                view.feedback = "success"
                return _at(view, session)
        try:
            seen = {**{n: extra.get(n, "") for n in step.reads}, **state} if step.reads \
                else state
            state[step.name] = step.check(session, raw, seen)
        except DomainError as exc:
            try:  # a scan, not a preview: switching opens the other order
                switched = _switched(flow, session, raw, state, actor, exc) if commit else None
            except DomainError as why_not:  # says what to do first, at this step
                why_not.details["field"] = step.name
                switched, exc = None, why_not
            if switched is not None:
                return advance(flow, session, switched, actor, options)
            return _refused(flow, session, form, state, done, step, exc, key, extra)
        if step.opened is not None and form.get("step") == step.name:
            step.opened(session, state[step.name], actor)
        done.append(step)
        last = step
    if not commit:
        view = View(flow, {k: v for k, v in state.items() if k != last.name}, current=last,
                    key=key, done=done[:-1], extra=extra)
        return _at(view, session)
    try:
        result = flow.commit(session, state, actor, key, {**extra, **(options or {})})
    except DomainError as exc:
        target = _step_for(flow, exc, flow.steps[-1])
        return _refused(flow, session, form, state, done, target, exc, key, extra)
    return _committed(flow, session, state, result, extra)


def _switched(flow: Flow, session, raw: str, state: dict, actor, exc: DomainError):
    """The form to walk when a refused scan names another kept value (an order number at
    Pack's item step), else None."""
    if flow.switch is None or not isinstance(exc, NotFound) or not any(
            name in state for name in flow.keep):
        return None
    return flow.switch(session, raw, state, actor)


def _committed(flow: Flow, session: Session, values, result, extra: dict) -> View:
    """The screen after a commit: the result, a new key, and the steps the flow keeps
    (none when the flow says their work is finished: the order is picked)."""
    session.expire_all()
    kept = {name: clean_scan(values.get(name)) for name in flow.keep if values.get(name)}
    fresh = View(flow, kept, result=result, key=new_key(), feedback="success",
                 extra={k: v for k, v in extra.items() if k not in ("expiry", *flow.per_scan)})
    if kept and flow.finished is not None and flow.finished(session, fresh):
        fresh.state, fresh.extra = {}, {}
    fresh.current = first_step(flow, session, fresh.state)
    return _at(fresh, session)


def _step_for(flow: Flow, exc: DomainError, default: Step) -> Step:
    """The step a refusal sends the packer back to: the field it names when that is a step
    of this flow, else the flow's rule for its code, else the step that was checked."""
    names = {s.name: s for s in flow.steps}
    field_name = exc.details.get("field")
    if field_name in names:
        return names[field_name]
    return names.get(flow.redo_on.get(exc.code), default)


def _refused(flow, session, form, state, done, step, exc, key, extra) -> View:
    """Clear the step the refusal names (keep the others) and ask for it again."""
    target = _step_for(flow, exc, step)
    kept = {k: v for k, v in state.items() if k != target.name}
    _carry(flow, form, kept, target)
    view = View(flow, kept, current=target, error=exc, key=key, feedback="error",
                done=[s for s in done if s.name != target.name], extra=extra)
    if flow.override.get(exc.code):
        _offer_override(view, form, flow.override[exc.code])
    return _at(view, session)


def _offer_override(view: View, form, override: str) -> None:
    """Offer a supervisor's override of the refused scan: the view keeps the value refused
    at its current step (a quantity confirmed by Enter or CMD:CONFIRM is the pending one)."""
    view.override = override
    raw = clean_scan(form.get(view.current.name))
    if view.current.quantity and (not raw or commands.is_confirm(raw)):
        raw = str(form.get("qty_pending") or "1")
    view.refused_value = raw
    if view.current.quantity:
        view.prefill = raw


def _carry(flow: Flow, form, state: dict, current: Step) -> None:
    """Keep values typed for later steps (they are checked again when their turn comes)."""
    redo = form.get("redo")
    for step in flow.steps:
        value = clean_scan(form.get(step.name))
        if step.name not in state and step is not current and step.name != redo and value \
                and not commands.is_command(value) and not step.quantity:
            state[step.name] = value


def _at(view: View, session) -> View:
    if view.current is not None:
        step = view.current
        view.prompt = step.prompt if isinstance(step.prompt, str) else step.prompt(session, view)
        view.info = step.info(session, view.state)
        view.offers = [c for c in offered_by(view.flow) if c.hint and offers(c, session, view)]
        if view.current.quantity and not view.prefill:
            default = view.current.default(session, view.state)
            if default is not None and view.pending_qty == 1:
                view.pending_qty = default
            view.prefill = str(view.pending_qty)
    return view


def first_step(flow: Flow, session, state) -> Step:
    """The first step that applies and has no accepted value yet."""
    return next(s for s in flow.steps if s.name not in state and s.applies(session, state))


def render_flow(view: View, status: int | None = None):
    """The whole page, or only the flow region for htmx (422 when a step was refused), with
    the flow's panel (read now, unless the scan's unit of work read it)."""
    from .station import remember_station

    panel = view.panel if view.panel is not None else _panel(view.flow, db.session, view)
    hidden = {k: v for k, v in view.state.items()
              if view.current is None or k != view.current.name}
    hidden.update({k: v for k, v in view.extra.items() if v})
    response = make_response(*page_or_fragment(
        "flows/page.html", "flows/_flow.html", status or (422 if view.error else 200),
        view=view, hidden=hidden, flow=view.flow, action=request.path, panel=panel))
    if view.station is not None:
        remember_station(response, view.station)
    return response
