"""Idempotency: a change sent again with its key (a flaky network, an offline queue
replayed) is applied once; the repeat is answered with the first result."""

from __future__ import annotations

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
# A refused scan, and a scan that does not commit, ask for it (Core: the stored result only).
_RESULT = select(IdempotencyRecord.result_json).where(IdempotencyRecord.key == bindparam("key"))
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")  # ASCII: the API document states it


@dataclass
class Once:
    """A change's idempotency key, scoped to its user: its record is written in the change's
    transaction, and a repeat of the key is answered with the first result."""

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
        return cls(f"{actor.user_id or 0}:{key}", actor.user_id, operation,
                   fingerprint(params))

    def record(self, session: Session, result: Result) -> None:
        """Written last: its primary key makes a twin that raced this change fail here."""
        session.flush()  # the change's own writes first, so a refusal among them wins
        session.execute(_RECORD, {  # Core, as the stock changes are (.changes)
            "key": self.key, "user_id": self.user_id, "operation": self.operation,
            "result_json": json.dumps({"fp": self.fingerprint, "result": result.to_dict()})})

    def replay(self, session: Session) -> Result | None:
        """The first result under this key, if a change was applied under it; the same key
        sent with another request is refused."""
        with transaction(session, write=False):
            record = session.get(IdempotencyRecord, self.key)
            if record is None:
                return None
            stored = json.loads(record.result_json)
            if record.operation != self.operation or stored.get("fp") != self.fingerprint:
                raise Conflict("This idempotency key was already used for a different request.",
                               code="idempotency_key_reused")
            return Result.from_dict(stored["result"])


def run_once(session: Session, operation: str, actor: Actor, key: str | None, params: dict,
             apply) -> Result:
    """Run ``apply()`` as one write transaction, at most once per idempotency key
    (:func:`lotline.db.run_in_transaction`). A refusal also looks for a twin that went first
    (the stock it wanted may be what the twin took); rules are re-checked on every try."""
    return run_in_transaction(session, apply, once=Once.of(actor, key, operation, params))


def already_done(session: Session, actor: Actor, key: str | None) -> Result | None:
    """The stored result of a submission already applied under ``key`` by this user, if any
    (a screen re-sent by a flaky network: answer "already done", not a refusal; the scan
    engine asks when a confirm was refused, and before walking a scan that does not
    commit)."""
    if not key:
        return None
    stored = session.connection().execute(
        _RESULT, {"key": f"{actor.user_id or 0}:{str(key).strip()}"}).scalar()
    if stored is None:
        return None
    stored = json.loads(stored)
    return Result.from_dict(stored["result"]) if "result" in stored else None
