"""API tokens over the API (admin): list them, revoke one."""

import datetime as dt
from typing import Literal

from pydantic import Field

from lotline import users as domain
from lotline.db import transaction
from lotline.extensions import db

from . import operation
from .bodies import Answer


class ApiToken(Answer):
    prefix: str = Field(description="The token's public part: ll_<prefix>_…")
    username: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = Field(description="Refused from then on; null: until "
                                                       "revoked")
    last_used_at: dt.datetime | None = Field(description="Written at most once a minute")
    revoked: bool
    state: Literal["active", "revoked", "expired", "user_inactive"]


class ApiTokens(Answer):
    tokens: list[ApiToken]


@operation("GET", "/tokens", role="admin", summary="List the API tokens (never their secrets)",
           response=ApiTokens)
def list_tokens():
    rows = domain.list_tokens(db.session)
    return {"tokens": [domain.token_summary(row) for row in rows]}


@operation("POST", "/tokens/<prefix>/revoke", role="admin",
           summary="Revoke an API token: it is refused from now on", response=ApiToken,
           errors=(404,))
def revoke_token(prefix):
    with transaction(db.session):
        row = domain.revoke_token(db.session, prefix)
        summary = domain.token_summary(row)
    return summary
