"""Sign-in settings: the OpenID Connect provider (OIDC_* or Streamlit's [auth] section in secrets)
and the idle-session limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import settings as settings_module
from core.settings import SettingsError, load_settings

OIDC = {
    "OIDC_CLIENT_ID": "pools",
    "OIDC_CLIENT_SECRET": "client-secret-value",
    "OIDC_SERVER_METADATA_URL": "https://id.example.com/.well-known/openid-configuration",
    "OIDC_REDIRECT_URI": "https://pools.example.com/oauth2callback",
}
PRODUCTION = {"APP_ENV": "production", "COOKIE_SECRET": "c" * 48}


def test_no_oidc_settings_means_local_accounts_only() -> None:
    config = load_settings({})
    assert config.oidc is None and config.oidc_missing == ()
    config.check()


def test_oidc_from_the_environment_becomes_streamlits_auth_section() -> None:
    config = load_settings({**OIDC, "OIDC_PROVIDER_NAME": "Okta", "COOKIE_SECRET": "k" * 40})
    assert config.oidc is not None and config.oidc.provider_name == "Okta"
    auth = config.oidc.streamlit_auth()
    assert auth == {
        "redirect_uri": OIDC["OIDC_REDIRECT_URI"],
        "cookie_secret": auth["cookie_secret"],
        "client_id": "pools",
        "client_secret": "client-secret-value",
        "server_metadata_url": OIDC["OIDC_SERVER_METADATA_URL"],
    }
    # No OIDC_COOKIE_SECRET: one derived from COOKIE_SECRET, stable, and not the key itself.
    assert len(str(auth["cookie_secret"])) == 64 and auth["cookie_secret"] != "k" * 40
    again = load_settings({**OIDC, "COOKIE_SECRET": "k" * 40}).oidc
    assert again is not None and again.cookie_secret == auth["cookie_secret"]
    assert load_settings({**OIDC, "OIDC_COOKIE_SECRET": "s" * 40}).oidc.cookie_secret == "s" * 40  # type: ignore[union-attr]
    load_settings({**OIDC, **PRODUCTION}).check()


def test_oidc_from_the_auth_section_of_secrets_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        settings_module,
        "_secrets_file",
        lambda: {
            "auth": {
                "redirect_uri": "http://localhost:8501/oauth2callback",
                "cookie_secret": "from-the-secrets-file-" + "x" * 20,
                "client_id": "file-client",
                "client_secret": "file-secret",
                "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration",
                "provider_name": "Example",
                "client_kwargs": {"prompt": "login"},
            }
        },
    )
    monkeypatch.setenv("OIDC_CLIENT_ID", "env-client")  # the environment comes first
    config = load_settings()
    assert config.oidc is not None
    assert (config.oidc.client_id, config.oidc.client_secret, config.oidc.provider_name) == (
        "env-client",
        "file-secret",
        "Example",
    )
    auth = config.oidc.streamlit_auth()
    assert auth["client_kwargs"] == {"prompt": "login"} and "provider_name" not in auth


def test_a_partial_oidc_configuration_is_refused() -> None:
    config = load_settings({"OIDC_CLIENT_ID": "pools", "OIDC_CLIENT_SECRET": "s"})
    assert config.oidc is None
    with pytest.raises(SettingsError, match="OIDC_SERVER_METADATA_URL, OIDC_REDIRECT_URI"):
        config.check()


def test_production_wants_https_redirects_and_a_long_cookie_secret() -> None:
    plain = {**OIDC, "OIDC_REDIRECT_URI": "http://pools.example.com/oauth2callback"}
    with pytest.raises(SettingsError, match="OIDC_REDIRECT_URI must be https"):
        load_settings({**plain, **PRODUCTION}).check()
    load_settings({**plain}).check()  # the demo may
    loopback = {**OIDC, "OIDC_REDIRECT_URI": "http://127.0.0.1:8501/oauth2callback"}
    load_settings({**loopback, **PRODUCTION}).check()
    with pytest.raises(SettingsError, match="OIDC_COOKIE_SECRET"):
        load_settings({**OIDC, **PRODUCTION, "OIDC_COOKIE_SECRET": "short"}).check()


def test_the_idle_limit() -> None:
    assert load_settings({}).session_idle_minutes == 30
    assert load_settings({"SESSION_IDLE_MINUTES": "5"}).session_idle_minutes == 5
    with pytest.raises(SettingsError, match="SESSION_IDLE_MINUTES"):
        load_settings({"SESSION_IDLE_MINUTES": "0"}).check()
