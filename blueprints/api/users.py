"""Users over the API: an admin's "sign out everywhere"."""

from pydantic import Field

from lotline import users as domain
from lotline.db import transaction
from lotline.extensions import db

from . import operation
from .bodies import Answer


class SignedOut(Answer):
    username: str
    sessions_ended: int = Field(ge=0, description="Sign-ins ended: each browser asks for the "
                                                  "password")


@operation("POST", "/users/<username>/sign-out-everywhere", role="admin",
           summary="Sign a user out everywhere (every browser asks for the password again)",
           response=SignedOut, errors=(404,))
def sign_out_everywhere(username):
    with transaction(db.session):
        user = domain.user_named(db.session, username)
        ended = domain.sign_out_everywhere(db.session, user)
    return {"username": user.username, "sessions_ended": ended}
