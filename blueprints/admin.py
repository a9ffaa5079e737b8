"""Admin: system settings (Require Lot/Serial at Pack) and users."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from lotline import settings as settings_domain
from lotline import users as users_domain
from lotline.db import run_in_transaction, transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import User

from . import accepts, role_blueprint
from .forms import EditUserForm, NewUserForm, SettingsForm

bp = role_blueprint("admin", __name__, "admin", url_prefix="/admin")


@bp.route("/settings", methods=["GET", "POST"])
@accepts("require_lot_serial_at_pack", "warehouse_time_zone", "csrf_token")
def settings():
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            with transaction(db.session):
                changed = [settings_domain.set_setting(db.session, field.name, field.data,
                                                       current_user)
                           for field in (form.require_lot_serial_at_pack,
                                         form.warehouse_time_zone)
                           if field.data is not None and field.data != ""]
        except DomainError as exc:
            form.warehouse_time_zone.errors.append(exc.message)
        else:
            state = "on" if form.require_lot_serial_at_pack.data else "off"
            zone = settings_domain.get_setting(db.session, settings_domain.WAREHOUSE_TIME_ZONE)
            flash(f"Require Lot/Serial at Pack is {state}; the warehouse's time zone is "
                  f"{zone}." if any(changed) else "Nothing changed.")
            return redirect(url_for("admin.settings"))
    if request.method == "GET":
        current = settings_domain.all_settings(db.session)
        form.require_lot_serial_at_pack.data = current[settings_domain.REQUIRE_LOT_SERIAL_AT_PACK]
        form.warehouse_time_zone.data = current[settings_domain.WAREHOUSE_TIME_ZONE]
    changes = settings_domain.recent_changes(db.session)
    return render_template("admin/settings.html", form=form, changes=changes), \
        422 if request.method == "POST" else 200


@bp.route("/users", methods=["GET", "POST"])
@accepts("username", "password", "role", "csrf_token")
def users():
    form = NewUserForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            user = run_in_transaction(db.session, lambda: users_domain.create_user(
                db.session, form.username.data, form.password.data, form.role.data,
                hash_method=current_app.config["PASSWORD_HASH_METHOD"]))
            flash(f"Created {user.username} ({user.role}).")
            return redirect(url_for("admin.users"))
        except DomainError as exc:
            error, status = exc.message, exc.status
    elif request.method == "POST":
        status = 422
    all_users = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", form=form, users=all_users, error=error), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@accepts("role", "active", "password", "csrf_token")
def edit_user(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = EditUserForm(obj=user)
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            with transaction(db.session):
                users_domain.update_user(
                    db.session, user, role=form.role.data, active=form.active.data,
                    password=form.password.data or None,
                    hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                    acting_user=current_user)
            flash(f"Saved {user.username}.")
            return redirect(url_for("admin.users"))
        except DomainError as exc:
            error, status = exc.message, exc.status
    elif request.method == "POST":
        status = 422
    return render_template("admin/edit_user.html", form=form, user=user, error=error,
                           signed_in=users_domain.open_sessions(db.session, user)), status


@bp.post("/users/<int:user_id>/sign-out-everywhere")
@accepts("csrf_token")
def sign_out_everywhere(user_id):
    """End every sign-in of the user: a lost tablet, a shared password."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    with transaction(db.session):
        ended = users_domain.sign_out_everywhere(db.session, user)
    flash(f"Signed {user.username} out everywhere ({ended} sign-in{'s' if ended != 1 else ''} "
          f"ended).")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.get("/tokens")
@accepts()
def tokens():
    """The API tokens: whose, what for, expiry, last use; Revoke on each that still works."""
    rows = users_domain.list_tokens(db.session)
    return render_template("admin/tokens.html",
                           tokens=[(row, users_domain.token_state(row)) for row in rows])


@bp.post("/tokens/<prefix>/revoke")
@accepts("csrf_token")
def revoke_token(prefix):
    try:
        with transaction(db.session):
            users_domain.revoke_token(db.session, prefix)
    except DomainError as exc:
        abort(exc.status, exc.message)
    flash(f"Revoked API token ll_{prefix}.")
    return redirect(url_for("admin.tokens"))
