"""The sign-in throttle over the API, as on its screen: a supervisor lists the locked names
and unlocks one (an admin's only an admin: lotline.throttle.may_unlock)."""

import datetime as dt

from flask import g
from pydantic import Field

from lotline import throttle
from lotline.db import transaction
from lotline.extensions import db
from lotline.models import utc_stamp

from . import json_body, operation
from .bodies import Answer, Body, Username


class Unlock(Body):
    username: Username = Field(description="The name as listed (a user's name also clears "
                                           "their trusted devices' counts)")


class SignInLock(Answer):
    username: str
    trusted_device: bool = Field(description="Counted for a device the user signed in on "
                                             "before")
    failures: int = Field(ge=1)
    locked_until: dt.datetime | None = Field(description="null: failures counted, not locked")
    role: str | None = Field(description="null: no user has this name")


class SignInLocks(Answer):
    locks: list[SignInLock]


class SignInUnlocked(Answer):
    username: str
    cleared: int = Field(ge=1, description="Counts cleared")


@operation("GET", "/sign-in-locks", role="supervisor", response=SignInLocks,
           summary="List the names locked, or with failed sign-ins counted, in the window")
def list_sign_in_locks():
    return {"locks": [
        {"username": row.name, "trusted_device": row.device, "failures": row.failures,
         "locked_until": utc_stamp(row.locked_until), "role": row.role}
        for row in throttle.sign_in_locks(db.session)]}


@operation("POST", "/sign-in-locks/unlock", role="supervisor", body=Unlock,
           response=SignInUnlocked, errors=(404,),
           summary="Unlock a name: clear its failed sign-ins (and its trusted devices')")
def unlock_sign_in():
    username = json_body(Unlock)["username"].strip()
    with transaction(db.session):
        cleared = throttle.unlock_sign_in(db.session, username, g.api_user)
    return {"username": username, "cleared": cleared}
