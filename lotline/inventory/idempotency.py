"""Idempotency: a change sent again with its key (a flaky network, an offline queue
replayed) is applied once; the repeat is answered with the first result.

A key identifies one submission whoever sends it (issue 17): it is stored as sent, not per
user. The same key from the user who made the submission is answered with its first
result; from another user with "already done" and a summary (the operation and when, never
its changes, quantities, messages or who made it: :func:`already_submitted`); with another
request, from anyone, it is refused (``idempotency_key_reused``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from ..db import run_in_transaction, transaction
from ..errors import Conflict, ValidationError
from ..models import IdempotencyRecord
from .changes import Actor, Result


def fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


_RECORD = insert(IdempotencyRecord.__table__)
# A refused scan, and a scan that does not commit, ask for it (Core: the stored result, and
# whose it is).
_RESULT = select(IdempotencyRecord.result_json, IdempotencyRecord.user_id,
                 IdempotencyRecord.operation, IdempotencyRecord.created_at) \
    .where(IdempotencyRecord.key == bindparam("key"))
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")  # ASCII: the API document states it


def already_submitted(operation: str, at: dt.datetime) -> Result:
    """The answer to a submission another user already made under the same key: that it was
    made, which operation and when; nothing of its result (its changes, quantities,
    reference and messages are that user's)."""
    return Result(operation, replayed=True, submitted_at=at, messages=[
        f"Already done: this submission was made by another user at {at:%Y-%m-%d %H:%M} "
        f"UTC. Nothing was changed again."])


def _answer(record_user_id: int | None, user_id: int | None, operation: str,
            created_at: dt.datetime, stored: dict) -> Result | None:
    """What a repeat of an applied submission is answered: its first result for the user
    who made it, :func:`already_submitted` for anyone else."""
    if record_user_id != user_id:
        return already_submitted(operation, created_at)
    return Result.from_dict(stored["result"]) if "result" in stored else None


@dataclass
class Once:
    """A change's idempotency key, one submission whoever sends it: its record is written in
    the change's transaction, and a repeat of the key is answered with the first result (for
    another user: "already done", :func:`already_submitted`)."""

    key: str
    user_id: int | None
    operation: str
    fingerprint: str

    @classmethod
    def of(cls, actor: Actor, key, operation: str, params: dict) -> Once | None:
        """The key's record to be, or None for a change sent without a key."""
        if not key:
            return None
        key = str(key).strip()
        if not KEY_RE.fullmatch(key):
            raise ValidationError("An idempotency key has 8 to 64 letters, digits or . _ : -.",
                                  field="idempotency_key")
        return cls(key, actor.user_id, operation, fingerprint(params))

    def record(self, session: Session, result: Result) -> None:
        """Written last: its primary key makes a twin that raced this change fail here."""
        session.flush()  # the change's own writes first, so a refusal among them wins
        session.execute(_RECORD, {  # Core, as the stock changes are (.changes)
            "key": self.key, "user_id": self.user_id, "operation": self.operation,
            "result_json": json.dumps({"fp": self.fingerprint, "result": result.to_dict()})})

    def replay(self, session: Session) -> Result | None:
        """The answer under this key, if a change was applied under it (:func:`_answer`).
        The same user sending the key with another request is refused (a client that reuses
        a key for another change must learn it was not applied). Another user is answered
        "already done" whatever the request: a different answer for a different request
        would let them test guesses of what the first one was."""
        with transaction(session, write=False):
            record = session.get(IdempotencyRecord, self.key)
            if record is None:
                return None
            stored = json.loads(record.result_json)
            mine = record.user_id == self.user_id
            if mine and (record.operation != self.operation
                         or stored.get("fp") != self.fingerprint):
                raise Conflict("This idempotency key was already used for a different request.",
                               code="idempotency_key_reused")
            return _answer(record.user_id, self.user_id, record.operation, record.created_at,
                           stored)


def run_once(session: Session, operation: str, actor: Actor, key: str | None, params: dict,
             apply) -> Result:
    """Run ``apply()`` as one write transaction, at most once per idempotency key
    (:func:`lotline.db.run_in_transaction`). A refusal also looks for a twin that went first
    (the stock it wanted may be what the twin took); rules are re-checked on every try."""
    return run_in_transaction(session, apply, once=Once.of(actor, key, operation, params))


def already_done(session: Session, actor: Actor, key: str | None) -> Result | None:
    """The answer to a submission already applied under ``key``, if any (a screen re-sent
    by a flaky network: answer "already done", not a refusal; the scan engine asks when a
    confirm was refused, and before walking a scan that does not commit): its stored
    result for the user who made it, :func:`already_submitted` for anyone else."""
    if not key:
        return None
    row = session.connection().execute(_RESULT, {"key": str(key).strip()}).first()
    if row is None:
        return None
    return _answer(row.user_id, actor.user_id, row.operation, row.created_at,
                   json.loads(row.result_json))
