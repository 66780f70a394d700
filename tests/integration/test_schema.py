"""The models and the migrations agree (`alembic check`), and the newest migration goes down and
up again on a database with data in it, as a rolling deploy or a rollback would run it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from core.uow import UnitOfWork
from db.migrate import alembic_config, upgrade
from db.session import engine_for


def test_models_and_migrations_agree(database_url: str) -> None:
    command.check(alembic_config(database_url))  # raises when autogenerate finds a difference


def test_the_latest_migration_goes_down_and_up_keeping_the_data(fresh_database: str) -> None:
    config = alembic_config(fresh_database)
    with UnitOfWork(engine_for(fresh_database)) as uow:
        uow.session.execute(
            text(
                "INSERT INTO users (username, name, email, role, password_hash) "
                "VALUES ('kept', 'Kept', 'kept@example.com', 'investor', 'x')"
            )
        )
        uow.commit()
    command.downgrade(config, "0004")
    upgrade(fresh_database)
    command.check(config)
    with UnitOfWork(engine_for(fresh_database)) as uow:
        assert (
            uow.session.execute(text("SELECT version FROM users WHERE username = 'kept'")).scalar_one() == 0
        )
