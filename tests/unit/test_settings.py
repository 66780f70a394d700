"""Settings come from the environment; a real deployment refuses a guessable cookie key."""

import pytest

from core.settings import DEFAULT_COOKIE_SECRET, SettingsError, load_settings


def test_values_come_from_the_environment() -> None:
    config = load_settings(
        {
            "DATABASE_URL": "postgresql://db/x",
            "REDIS_URL": "redis://r:6379/1",
            "LOCKOUT_FAILURES": "7",
            "LOG_FORMAT": "json",
        }
    )
    assert (config.database_url, config.redis_url) == ("postgresql://db/x", "redis://r:6379/1")
    assert config.lockout_failures == 7 and config.log_format == "json"


def test_no_urls_means_embedded_servers_and_demo_mode() -> None:
    config = load_settings({})
    assert config.database_url is None and config.redis_url is None and config.demo
    config.check()  # the demo may run with the demo key


@pytest.mark.parametrize("secret", [DEFAULT_COOKIE_SECRET, "short-secret"])
def test_production_refuses_a_default_or_short_cookie_key(secret: str) -> None:
    with pytest.raises(SettingsError, match="COOKIE_SECRET"):
        load_settings({"APP_ENV": "production", "COOKIE_SECRET": secret}).check()


def test_production_accepts_a_long_random_key() -> None:
    load_settings({"APP_ENV": "production", "COOKIE_SECRET": "x" * 48}).check()


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(SettingsError, match="APP_ENV"):
        load_settings({"APP_ENV": "staging"}).check()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOCKOUT_FAILURES", "abc"),
        ("LOCKOUT_MINUTES", "15m"),
        ("METRICS_PORT", "9100.5"),
        ("OPERATION_RATE_LIMIT", "lots"),
        ("SESSION_IDLE_MINUTES", "half an hour"),
        ("COOKIE_EXPIRY_DAYS", "one"),
        ("COOKIE_EXPIRY_DAYS", "nan"),
        ("COOKIE_EXPIRY_DAYS", "inf"),
    ],
)
def test_a_value_that_is_not_a_number_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{name} must be a (whole |finite )?number, not '{value}'$"):
        load_settings({name: value})


def test_numbers_may_carry_spaces_and_unset_or_empty_means_the_default() -> None:
    config = load_settings({"LOCKOUT_FAILURES": " 7 ", "LOCKOUT_MINUTES": "", "COOKIE_EXPIRY_DAYS": "0.5"})
    assert (config.lockout_failures, config.lockout_minutes, config.cookie_expiry_days) == (7, 15, 0.5)


def test_the_command_line_refuses_a_bad_number_with_one_clear_line() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "LOCKOUT_FAILURES": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "core", "verify"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LOCKOUT_FAILURES must be a whole number, not 'abc'" in result.stderr
    assert "Traceback" not in result.stderr
