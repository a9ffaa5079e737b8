"""Locked sign-ins (supervisor): the names the sign-in throttle counts failures for, and
Unlock (an admin's name only by an admin)."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from lotline import throttle
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db

from . import accepts, role_blueprint
from .forms import UnlockSignInForm

bp = role_blueprint("sign_in_locks", __name__, "supervisor", url_prefix="/sign-in-locks")


def _page(error: str | None = None, status: int = 200):
    rows = throttle.sign_in_locks(db.session)
    return render_template("admin/sign_in_locks.html", error=error, listed=throttle.LISTED,
                           form=UnlockSignInForm(formdata=None),
                           max_failures=throttle.MAX_FAILURES,
                           window=throttle.FAILURE_WINDOW.seconds // 60,
                           lockout=throttle.LOCKOUT.seconds // 60,
                           locks=[(row, throttle.may_unlock(current_user, row.role))
                                  for row in rows]), status


@bp.get("/")
@accepts()
def index():
    return _page()


@bp.post("/unlock")
@accepts("username", "csrf_token")
def unlock():
    form = UnlockSignInForm()
    if not form.validate_on_submit():
        return _page("Say which name to unlock.", 422)
    try:
        with transaction(db.session):
            throttle.unlock_sign_in(db.session, form.username.data, current_user)
    except DomainError as exc:
        return _page(exc.message, exc.status)
    flash(f"Unlocked sign-in for {form.username.data.strip()}.")
    return redirect(url_for("sign_in_locks.index"))
