"""Sign-in, sign-out and the home screen."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.throttle import new_trusted_device
from lotline.users import end_session, sign_in

from . import accepts
from .forms import LoginForm
from .plain_http import PLAIN_HTTP_MESSAGE, secure_cookie_lost
from .trusted_device import remember_device, trusted_devices

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot bounce a user elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("auth.home")


@bp.route("/login", methods=["GET", "POST"])
@accepts("username", "password", "csrf_token", "next")
def login():
    form = LoginForm()
    error = None
    status = 200
    retry_after = None
    if form.validate_on_submit():
        try:
            user = sign_in(db.session, form.username.data, form.password.data,
                           hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                           devices=trusted_devices())
        except DomainError as exc:  # the failure is counted
            error, status = exc.message, exc.status
            retry_after = exc.details.get("retry_after")
        else:
            session.pop("csrf_token", None)  # a token planted before sign-in is not reused
            login_user(user)
            current_app.logger.info("sign-in %s", user.username)
            return remember_device(redirect(_safe_next(request.args.get("next"))),
                                   new_trusted_device(user))
    elif request.method == "POST":
        status = 422
    plain_http = PLAIN_HTTP_MESSAGE if secure_cookie_lost() else None
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return render_template("auth/login.html", form=form, error=error,
                           plain_http=plain_http), status, headers


@bp.post("/logout")
@accepts("csrf_token")
@login_required
def logout():
    """End this sign-in: its cookie, kept or copied, no longer signs anyone in."""
    with transaction(db.session):
        end_session(db.session, current_user.get_id())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/")
@accepts()
@login_required
def home():
    return render_template("home.html")
