"""Production refuses to start with a default cookie key or with demo passwords still in use, the
worker as well as the app; the health service never shows a password."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from core import bootstrap, operations
from core.permissions import Actor
from core.seed import DEMO_USERS, demo_passwords_in_use
from core.services import health, users
from core.settings import DEFAULT_COOKIE_SECRET, SettingsError, load_settings
from core.uow import UnitOfWork
from db.models import Operation, User
from db.session import engine_for

ROOT = Path(__file__).resolve().parents[2]
LONG_KEY = secrets.token_urlsafe(40)


@pytest.fixture
def demo_database(fresh_database: str) -> tuple[str, Callable[[], UnitOfWork]]:
    """A database of its own holding two of the demo accounts with their published passwords."""
    factory = lambda: UnitOfWork(engine_for(fresh_database))  # noqa: E731
    for username, password, role, name, *_ in DEMO_USERS:
        if username in ("admin", "investor"):
            with factory() as uow:
                users.create_user(
                    Actor.system(), uow, username, name=name, email=f"{username}@example.com", role=role,
                    password=password,
                )  # fmt: skip
    return fresh_database, factory


def test_settings_refuse_a_default_or_short_cookie_key_in_production() -> None:
    for key in (DEFAULT_COOKIE_SECRET, "x" * 31):
        with pytest.raises(SettingsError, match="COOKIE_SECRET"):
            load_settings({"APP_ENV": "production", "COOKIE_SECRET": key}).check()
    load_settings({"APP_ENV": "production", "COOKIE_SECRET": LONG_KEY}).check()


def test_demo_passwords_are_found_by_checking_them_against_the_stored_hashes(demo_database, environment):
    _, factory = demo_database
    with factory() as uow:
        assert demo_passwords_in_use(uow) == ["admin", "investor"]

    environment(APP_ENV="production", COOKIE_SECRET=LONG_KEY)
    with pytest.raises(SettingsError, match="demo passwords") as refused:
        bootstrap.check_production_ready(factory)
    assert "admin" in str(refused.value) and "investor" in str(refused.value)

    # A new password for one, deactivation for the other: production may start.
    with factory() as uow:
        uow.session.execute(
            update(User).where(User.username == "admin").values(password_hash=users.hash_password(LONG_KEY))
        )
        uow.session.execute(update(User).where(User.username == "investor").values(active=False))
        uow.commit()
    with factory() as uow:
        assert demo_passwords_in_use(uow) == []
    bootstrap.check_production_ready(factory)


def test_outside_production_demo_accounts_are_fine(demo_database, environment):
    _, factory = demo_database
    environment(APP_ENV="demo")
    bootstrap.check_production_ready(factory)


def _run(database_url: str, package: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "production", "COOKIE_SECRET": LONG_KEY}
    return subprocess.run(
        [sys.executable, "-m", package, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_worker_and_the_app_refuse_to_start_and_seeding_is_refused(demo_database):
    url, _ = demo_database
    worker = _run(url, "core", "worker", "--burst")
    assert worker.returncode == 2
    assert "refusing to start" in worker.stderr and "demo passwords" in worker.stderr
    app = _run(url, "app", "serve", "--server.headless", "true")
    assert app.returncode == 2 and "demo passwords" in app.stderr
    seeded = _run(url, "core", "seed")
    assert seeded.returncode == 2 and "refusing to seed" in seeded.stderr


def test_the_health_report_shows_no_password(make, uow_factory, environment):
    """Where the servers are and why operations failed, as the admin's health page shows them."""
    admin = make.user("admin")
    pool_id, boss = make.pool(hard_cap="2000000")
    make.commitment(pool_id, amount="100000", accept_as=boss)
    from core.services import pools

    with uow_factory() as uow:
        pools.close_pool(boss, uow, pool_id)
    due = (date.today() + timedelta(days=14)).isoformat()
    with uow_factory() as uow:
        status = operations.submit(
            boss, uow, pool_id, "capital_call", {"percent": "1", "purpose": "health check", "due_date": due}
        )
    with uow_factory() as uow:  # a failure whose reason quotes a connection string
        uow.session.execute(
            update(Operation)
            .where(Operation.id == status.id)
            .values(status="failed", error="could not connect to postgresql://app:hunter2@db:5432/pools")
        )
        uow.commit()
    # The configured URLs carry passwords (trust authentication ignores them).
    database = re.sub(r"^(postgresql://[^:@/]+)@", r"\1:hunter2@", os.environ["DATABASE_URL"])
    environment(DATABASE_URL=database, REDIS_URL="redis://:hunter2@127.0.0.1:6379/15")
    with uow_factory() as uow:
        report = health.health(admin, uow)
    assert "hunter2" not in repr(report)
    # Where the servers are, never how to log in to them.
    assert report.servers.startswith(
        "PostgreSQL configured, host 127.0.0.1 · Redis configured, host 127.0.0.1"
    )
    mine = next(op for op in report.failed if op.id == status.id)
    assert mine.error == "could not connect to postgresql://app:***@db:5432/pools"


def test_seeding_itself_refuses_in_production_whoever_asks(fresh_database, environment):
    """The refusal lives in core.seed, so `python -m app run` on an empty production database (which
    seeds when empty) writes no demo account either."""
    from core import seed

    factory = lambda: UnitOfWork(engine_for(fresh_database))  # noqa: E731
    environment(APP_ENV="production", COOKIE_SECRET=LONG_KEY)
    with pytest.raises(seed.ProductionRefusal, match="refusing to seed"):
        seed.seed_demo(factory)
    with factory() as uow, pytest.raises(seed.ProductionRefusal):
        seed.seed_scale(uow, 10, 1)
    with factory() as uow:
        assert seed.is_empty(uow)
