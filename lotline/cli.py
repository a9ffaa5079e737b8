"""``flask --app app …`` commands: seed-demo, create-user, create-token, the sign-in locks …"""

from __future__ import annotations

import click
from flask import Flask, current_app

from . import throttle, users
from .db import run_in_transaction, transaction
from .errors import DomainError
from .extensions import db
from .models import utc_stamp


def _change(work):
    """``work()`` as one write transaction, and its result; a refusal is the command's error
    (its message, exit status 1)."""
    try:
        return run_in_transaction(db.session, work)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def register(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(["packer", "supervisor", "admin"]), required=True)
    @click.password_option(help="At least 8 characters.")
    def create_user(username, role, password):
        """Create a user with a role."""
        _change(lambda: users.create_user(
            db.session, username, password, role,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"]))
        click.echo(f"Created {username} ({role}).")

    @app.cli.command("create-token")
    @click.argument("username")
    @click.option("--label", default="", help="What the token is for.")
    @click.option("--expires-in-days", type=int, default=None,
                  help="Refuse the token after this many days (1 to 3650; default: never).")
    def create_token(username, label, expires_in_days):
        """Print a new API token for USERNAME (shown once; only its hash is stored)."""
        try:
            with transaction(db.session):
                token = users.create_token(db.session, users.user_named(db.session, username),
                                           label, expires_in_days=expires_in_days)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(token)

    @app.cli.command("list-tokens")
    def list_tokens():
        """List the API tokens: prefix, user, label, created, expires, last used, revoked."""
        rows = [users.token_summary(row) for row in users.list_tokens(db.session)]
        for row in rows:
            click.echo("  ".join([
                f"ll_{row['prefix']}", row["username"], row["label"] or "-",
                f"created {row['created_at']}", f"expires {row['expires_at'] or 'never'}",
                f"last used {row['last_used_at'] or 'never'}",
                row["state"]]))
        if not rows:
            click.echo("No API tokens.")

    @app.cli.command("revoke-token")
    @click.argument("prefix")
    def revoke_token(prefix):
        """Revoke the API token PREFIX (its ll_PREFIX_ part, as list-tokens shows it)."""
        prefix = prefix.removeprefix("ll_").split("_", 1)[0]
        _change(lambda: users.revoke_token(db.session, prefix))
        click.echo(f"Revoked ll_{prefix}.")

    @app.cli.command("sign-out-everywhere")
    @click.argument("username")
    def sign_out_everywhere(username):
        """End every sign-in of USERNAME: each browser asks for the password again."""
        ended = _change(lambda: users.sign_out_everywhere(
            db.session, users.user_named(db.session, username)))
        click.echo(f"Signed {username} out everywhere ({ended} sign-in(s) ended).")

    @app.cli.command("list-sign-in-locks")
    def list_sign_in_locks():
        """List the names locked, or with failed sign-ins counted, in the throttle's window."""
        rows = throttle.sign_in_locks(db.session)
        for row in rows:
            until = utc_stamp(row.locked_until) or "not locked"
            click.echo("  ".join([row.name + (" (trusted device)" if row.device else ""),
                                  f"{row.failures} failure(s)",
                                  f"locked until {until}" if row.locked_until else until]))
        if not rows:
            click.echo("No failed sign-ins counted.")

    @app.cli.command("unlock-sign-in")
    @click.argument("username")
    def unlock_sign_in(username):
        """Clear the failed sign-ins counted for USERNAME (and its trusted devices)."""
        _change(lambda: throttle.unlock_sign_in(db.session, username))
        click.echo(f"Unlocked sign-in for {username}.")

    @app.cli.command("prune-sessions")
    @click.option("--days", type=int, default=90, show_default=True,
                  help="Keep ended sign-ins this many days.")
    def prune_sessions(days):
        """Delete sign-ins that ended more than --days ago (open ones are kept), and the
        sign-in throttle's dead rows (window and lock both passed)."""
        try:
            with transaction(db.session):
                deleted = users.prune_sessions(db.session, days=days)
                counts = throttle.prune_throttle(db.session)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Deleted {deleted} ended sign-in(s) and {counts} expired sign-in "
                   f"count(s).")

    @app.cli.command("seed-demo")
    def seed_demo():
        """Fill an empty database with a small, realistic demo warehouse."""
        from .demo import seed

        try:
            lines = seed(db.session, current_app.config["PASSWORD_HASH_METHOD"])
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        for line in lines:
            click.echo(line)

    @app.cli.command("seed-bulk")
    @click.option("--inventory", type=click.IntRange(min=1), default=1_000_000,
                  show_default=True, help="Inventory rows (each with a 'put' ledger row).")
    @click.option("--pack-lines", type=click.IntRange(min=1), default=5_000_000,
                  show_default=True, help="Pack lines (about ten per order).")
    @click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
    @click.option("--yes", is_flag=True, help="Do not ask before writing.")
    def seed_bulk(inventory, pack_lines, seed, yes):
        """Fill an EMPTY database with a benchmark-sized warehouse, by bulk inserts."""
        from .bulk import NotEmpty, Plan
        from .bulk import seed_bulk as fill

        engine = db.engine
        if not yes:
            click.confirm(f"Write about {Plan(inventory, pack_lines).approx_rows():,} rows into "
                          f"{engine.url.render_as_string(hide_password=True)}?", abort=True)
        try:
            fill(engine, inventory=inventory, pack_lines=pack_lines, seed=seed, echo=click.echo)
        except NotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
