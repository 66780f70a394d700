"""The models and the migrations agree (`alembic check`), and the newest migration goes down and
up again on a database with data in it, as a rolling deploy or a rollback would run it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from alembic import command
from sqlalchemy import text

from core.ledger.accounts import MOVEMENTS
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


def test_the_line_map_the_migrations_wrote_is_the_ledgers_vocabulary(database_url: str) -> None:
    with UnitOfWork(engine_for(database_url)) as uow:
        stored = uow.session.execute(text("SELECT kind, account, line, side FROM ledger_line_map")).all()
    assert {(kind, account): (line, side) for kind, account, line, side in stored} == {
        (kind.value, account.value): (line.value, side.value)
        for (kind, account), (line, side) in MOVEMENTS.items()
    }


def test_pool_days_are_backfilled_from_the_entries_already_posted(fresh_database: str) -> None:
    """Migration 0007 on a ledger with history: each pool's daily sums start out complete."""
    config = alembic_config(fresh_database)
    command.downgrade(config, "0006")
    with UnitOfWork(engine_for(fresh_database)) as uow:
        run = uow.session.execute
        manager = run(
            text(
                "INSERT INTO users (username, name, email, role, password_hash) "
                "VALUES ('gp', 'GP', 'gp@example.com', 'fund_manager', 'x') RETURNING id"
            )
        ).scalar_one()
        investor = run(
            text(
                "INSERT INTO users (username, name, email, role, password_hash) "
                "VALUES ('lp', 'LP', 'lp@example.com', 'investor', 'x') RETURNING id"
            )
        ).scalar_one()
        pool = run(
            text(
                "INSERT INTO pools (manager_id, name, strategy, currency, target_size, hard_cap, min_ticket, "
                "max_ticket, management_fee_rate, carry_rate, hurdle_rate, catch_up_rate, close_date, status) "
                "VALUES (:m, 'Old', 'venture', 'EUR', 1000, 2000, 1, 1000, 0.02, 0.2, 0.08, 1, "
                "'2030-01-01', 'open') RETURNING id"
            ),
            {"m": manager},
        ).scalar_one()
        for key, kind, day, legs in (
            ("c", "commitment", "2025-01-02", [("commitment_memo", "D"), ("commitment", "C")]),
            ("v1", "valuation", "2025-03-31", [("unrealized", "D"), ("capital", "C")]),
            ("v2", "valuation", "2025-03-31", [("capital", "D"), ("unrealized", "C")]),
        ):
            journal = run(
                text(
                    "INSERT INTO journals (idempotency_key, pool_id, kind, effective_date) "
                    "VALUES (:key, :pool, :kind, :day) RETURNING id"
                ),
                {"key": key, "pool": pool, "kind": kind, "day": day},
            ).scalar_one()
            amount = {"c": 500, "v1": 70, "v2": 20}[key]
            for account, side in legs:
                run(
                    text(
                        "INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount) "
                        "VALUES (:j, :pool, :investor, :account, 'EUR', :side, :amount)"
                    ),
                    {
                        "j": journal,
                        "pool": pool,
                        "investor": None if account == "unrealized" else investor,
                        "account": account,
                        "side": side,
                        "amount": amount,
                    },
                )
        uow.commit()
    upgrade(fresh_database)
    with UnitOfWork(engine_for(fresh_database)) as uow:
        days = uow.session.execute(
            text("SELECT day, line, amount FROM pool_days WHERE pool_id = :p"), {"p": pool}
        )
        assert {(day, line): amount for day, line, amount in days} == {
            (date(2025, 1, 2), "commitment"): Decimal(500),
            (date(2025, 3, 31), "unrealized_gain"): Decimal(50),
            (date(2025, 3, 31), "unrealized_value"): Decimal(50),
        }
