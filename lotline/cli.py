"""``flask --app app …`` commands: seed-demo, create-user, create-token."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select

from . import users
from .db import transaction
from .errors import DomainError
from .extensions import db
from .models import User


def register(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(["packer", "supervisor", "admin"]), required=True)
    @click.password_option(help="At least 8 characters.")
    def create_user(username, role, password):
        """Create a user with a role."""
        try:
            with transaction(db.session):
                users.create_user(db.session, username, password, role,
                                  hash_method=current_app.config["PASSWORD_HASH_METHOD"])
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Created {username} ({role}).")

    @app.cli.command("create-token")
    @click.argument("username")
    @click.option("--label", default="", help="What the token is for.")
    def create_token(username, label):
        """Print a new API token for USERNAME (shown once; only its hash is stored)."""
        with transaction(db.session):
            user = db.session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"No user {username}.")
            token = users.create_token(db.session, user, label)
        click.echo(token)

    @app.cli.command("sign-out-everywhere")
    @click.argument("username")
    def sign_out_everywhere(username):
        """End every sign-in of USERNAME: each browser asks for the password again."""
        try:
            with transaction(db.session):
                ended = users.sign_out_everywhere(db.session,
                                                  users.user_named(db.session, username))
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Signed {username} out everywhere ({ended} sign-in(s) ended).")

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
