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
