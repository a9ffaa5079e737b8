"""The CLI: create-user, create-token, seed-demo; and migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select

from lotline.extensions import db
from lotline.models import ApiToken, Item, User
from lotline.users import user_for_token


def test_create_user_and_token(runner):
    result = runner.invoke(args=["create-user", "ana", "--role", "supervisor",
                                 "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "ana"))
    assert user.role == "supervisor"
    result = runner.invoke(args=["create-token", "ana", "--label", "erp"])
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("ll_")
    assert user_for_token(db.session, token).username == "ana"
    assert token not in db.session.scalar(select(ApiToken.token_hash))


def test_create_user_refuses_bad_input(runner):
    result = runner.invoke(args=["create-user", "ana", "--role", "packer", "--password", "short"])
    assert result.exit_code != 0 and "at least 8" in result.output
    result = runner.invoke(args=["create-token", "nobody"])
    assert result.exit_code != 0 and "No user nobody" in result.output


def test_seed_demo_fills_an_empty_database_once(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    items = db.session.scalars(select(Item)).all()
    assert len(items) >= 30
    assert any(i.require_lot for i in items) and any(i.require_serial for i in items)
    roles = set(db.session.scalars(select(User.role)))
    assert roles == {"packer", "supervisor", "admin"}
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(Item)) == len(items)


def test_migrations_build_the_schema_the_models_describe(app, tmp_path):
    """`flask db upgrade` on an empty SQLite file gives exactly the models' schema."""
    from flask_migrate import upgrade

    from app import create_app

    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with migrated.app_context():
        upgrade()
        db.engine.dispose()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
    finally:
        engine.dispose()
