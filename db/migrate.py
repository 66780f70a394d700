"""Run Alembic migrations from code: at app start-up, by `python -m core migrate`, and in tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def code_head() -> str:
    """The schema revision this release's code is written for (its newest migration)."""
    return ScriptDirectory(str(HERE / "migrations")).get_current_head() or "base"
