"""Settings: read once from the environment (or .streamlit/secrets.toml), never from os.environ elsewhere."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COOKIE_SECRET = "demo-cookie-secret-not-for-production-use"  # noqa: S105  (refused outside demo mode)
MIN_COOKIE_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    pass


OIDC_REQUIRED = ("client_id", "client_secret", "server_metadata_url", "redirect_uri")
SMTP_TLS_MODES = ("off", "starttls", "ssl")
SMTP_DEFAULT_PORTS = {"off": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID Connect provider for st.login: Streamlit's [auth] section, built from settings."""

    client_id: str
    client_secret: str = field(repr=False)  # secrets stay out of repr(), as in Settings
    server_metadata_url: str
    redirect_uri: str
    cookie_secret: str = field(repr=False)
    provider_name: str = "single sign-on"
    extra: dict[str, object] = field(default_factory=dict)  # other [auth] keys, e.g. client_kwargs

    def streamlit_auth(self) -> dict[str, object]:
        """The [auth] section Streamlit reads (default provider: st.login() with no name)."""
        return {
            **self.extra,
            "redirect_uri": self.redirect_uri,
            "cookie_secret": self.cookie_secret,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "server_metadata_url": self.server_metadata_url,
        }


@dataclass(frozen=True)
class Settings:
    # Secrets stay out of repr(): a logged or displayed Settings shows no password or key.
    database_url: str | None = field(repr=False)
    redis_url: str | None = field(repr=False)
    environment: str = "demo"  # demo | test | production
    cookie_secret: str = field(default=DEFAULT_COOKIE_SECRET, repr=False)
    cookie_name: str = "investment_pools_auth"
    cookie_expiry_days: float = 1.0
    data_dir: Path = field(default=ROOT / "data")
    queue_name: str = "operations"
    operation_timeout_seconds: int = 300
    operation_batch_size: int = 20_000  # investors per transaction of a bulk operation (kinds.BATCH)
    sweep_pending_after_seconds: int = 30
    sweep_interval_seconds: int = 15
    metrics_port: int = 0
    app_port: int = 8501  # where `make run` serves the app (Streamlit's own STREAMLIT_SERVER_PORT)
    lockout_failures: int = 5
    lockout_minutes: int = 15
    # Rate limits, counted in Redis so they hold across replicas (core/ratelimit.py); 0 turns one off.
    operation_rate_limit: int = 30  # operation submissions per actor per minute
    login_rate_limit_account: int = 10  # login attempts per username per login window
    login_rate_limit_source: int = 30  # login attempts per client address per login window
    login_rate_window_seconds: int = 300
    trusted_proxy_hops: int = 0  # reverse proxies in front of the app that append to X-Forwarded-For
    log_level: str = "INFO"
    log_format: str = "text"  # text | json
    session_idle_minutes: int = 30  # a signed-in session idle longer than this is signed out
    oidc: OidcSettings | None = None  # sign-in with an OpenID Connect provider, when configured
    oidc_missing: tuple[str, ...] = ()  # OIDC settings left out of a partial configuration
    # Mail (core.mail). No SMTP_HOST: mail is off, notices are stored and shown in the app only.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # off | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = ""
    mail_retry_seconds: tuple[int, ...] = (30, 120, 600, 1800)  # the waits between tries of one send
    templates_dir: Path = field(default=ROOT / "templates")  # branding and wording a fund edits

    @property
    def demo(self) -> bool:
        return self.environment == "demo"

    def check(self) -> None:
        """Refuse to run a real deployment with a guessable cookie key."""
        if self.environment not in ("demo", "test", "production"):
            raise SettingsError(f"APP_ENV must be demo, test or production, not {self.environment!r}")
        if not self.demo and (
            self.cookie_secret == DEFAULT_COOKIE_SECRET or len(self.cookie_secret) < MIN_COOKIE_SECRET_LENGTH
        ):
            raise SettingsError(
                f"COOKIE_SECRET must be set to at least {MIN_COOKIE_SECRET_LENGTH} random characters "
                f"outside demo mode (APP_ENV={self.environment})"
            )
        if self.session_idle_minutes < 1:
            raise SettingsError("SESSION_IDLE_MINUTES must be at least 1")
        if self.oidc_missing:
            raise SettingsError(
                "OpenID Connect is partly configured; also set "
                + ", ".join(f"OIDC_{name.upper()}" for name in self.oidc_missing)
            )
        if self.smtp_tls not in SMTP_TLS_MODES:
            raise SettingsError(
                f"SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {self.smtp_tls[:20]!r}"
            )
        if self.smtp_host and "@" not in self.mail_from:
            raise SettingsError("MAIL_FROM must be set to the sender's address when SMTP_HOST is set")
        if self.oidc is not None and not self.demo:
            redirect = urlsplit(self.oidc.redirect_uri)
            if redirect.scheme != "https" and redirect.hostname not in ("localhost", "127.0.0.1", "::1"):
                raise SettingsError("OIDC_REDIRECT_URI must be https outside demo mode (except on loopback)")
            if len(self.oidc.cookie_secret) < MIN_COOKIE_SECRET_LENGTH:
                raise SettingsError(
                    f"OIDC_COOKIE_SECRET must be at least {MIN_COOKIE_SECRET_LENGTH} characters"
                )


def _secrets_file() -> dict[str, object]:
    path = ROOT / ".streamlit" / "secrets.toml"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Environment first, then Streamlit's secrets file, then defaults."""
    secrets = _secrets_file() if env is None else {}
    env = dict(os.environ if env is None else env)

    def get(name: str, default: str | None = None) -> str | None:
        value: object = env.get(name)
        if value in (None, ""):
            value = secrets.get(name, secrets.get(name.lower()))
        return default if value in (None, "") else str(value)

    def number(name: str, default: int) -> int:
        value = get(name)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {value[:40]!r}") from None

    def decimal(name: str, default: float) -> float:
        value = get(name)
        if value is None:
            return default
        try:
            result = float(value.strip())  # float-ok: a duration in days, not money
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {value[:40]!r}") from None
        if not math.isfinite(result):
            raise SettingsError(f"{name} must be a finite number, not {value[:40]!r}")
        return result

    return Settings(
        database_url=get("DATABASE_URL"),
        redis_url=get("REDIS_URL"),
        environment=get("APP_ENV", "demo") or "demo",
        cookie_secret=get("COOKIE_SECRET", DEFAULT_COOKIE_SECRET) or DEFAULT_COOKIE_SECRET,
        cookie_name=get("COOKIE_NAME", "investment_pools_auth") or "investment_pools_auth",
        cookie_expiry_days=decimal("COOKIE_EXPIRY_DAYS", 1.0),
        data_dir=Path(get("DATA_DIR", str(ROOT / "data")) or ROOT / "data"),
        queue_name=get("QUEUE_NAME", "operations") or "operations",
        operation_timeout_seconds=number("OPERATION_TIMEOUT_SECONDS", 300),
        operation_batch_size=max(1, number("OPERATION_BATCH_SIZE", 20000)),
        sweep_pending_after_seconds=number("SWEEP_PENDING_AFTER_SECONDS", 30),
        sweep_interval_seconds=number("SWEEP_INTERVAL_SECONDS", 15),
        metrics_port=number("METRICS_PORT", 0),
        app_port=number("STREAMLIT_SERVER_PORT", 8501),
        lockout_failures=number("LOCKOUT_FAILURES", 5),
        lockout_minutes=number("LOCKOUT_MINUTES", 15),
        operation_rate_limit=max(0, number("OPERATION_RATE_LIMIT", 30)),
        login_rate_limit_account=max(0, number("LOGIN_RATE_LIMIT_ACCOUNT", 10)),
        login_rate_limit_source=max(0, number("LOGIN_RATE_LIMIT_SOURCE", 30)),
        login_rate_window_seconds=max(1, number("LOGIN_RATE_WINDOW_SECONDS", 300)),
        trusted_proxy_hops=max(0, number("TRUSTED_PROXY_HOPS", 0)),
        log_level=get("LOG_LEVEL", "INFO") or "INFO",
        log_format=get("LOG_FORMAT", "text") or "text",
        session_idle_minutes=number("SESSION_IDLE_MINUTES", 30),
        **_oidc_settings(get, secrets),
        **_mail_settings(get, number),
    )


def _mail_settings(get: Callable[..., str | None], number: Callable[[str, int], int]) -> dict[str, Any]:
    """SMTP_* and MAIL_* variables; the port defaults to the one the TLS mode uses (25, 587, 465)."""
    tls = (get("SMTP_TLS", "starttls") or "starttls").strip().lower()
    retries = get("MAIL_RETRY_SECONDS")
    try:
        waits = tuple(int(part) for part in retries.split(",")) if retries else (30, 120, 600, 1800)
    except ValueError:
        raise SettingsError(
            f"MAIL_RETRY_SECONDS must be whole numbers of seconds separated by commas, not {str(retries)[:40]!r}"
        ) from None
    return {
        "smtp_host": get("SMTP_HOST"),
        "smtp_port": number("SMTP_PORT", SMTP_DEFAULT_PORTS.get(tls, 587)),
        "smtp_tls": tls,
        "smtp_user": get("SMTP_USER"),
        "smtp_password": get("SMTP_PASSWORD"),
        "mail_from": get("MAIL_FROM", "") or "",
        "mail_retry_seconds": tuple(max(0, wait) for wait in waits),
        "templates_dir": Path(get("TEMPLATES_DIR", str(ROOT / "templates")) or ROOT / "templates"),
    }


def _oidc_settings(get: Callable[..., str | None], secrets: dict[str, object]) -> dict[str, Any]:
    """OIDC_* variables, else the [auth] section of secrets.toml (Streamlit's own layout)."""
    section = secrets.get("auth")
    auth: dict[str, object] = dict(section) if isinstance(section, dict) else {}
    values: dict[str, str] = {}
    for key in (*OIDC_REQUIRED, "cookie_secret", "provider_name"):
        value = get(f"OIDC_{key.upper()}") or auth.get(key)
        if value not in (None, ""):
            values[key] = str(value)
    present = [key for key in OIDC_REQUIRED if key in values]
    if not present:
        return {"oidc": None}
    missing = tuple(key for key in OIDC_REQUIRED if key not in values)
    if missing:
        return {"oidc": None, "oidc_missing": missing}
    cookie_secret = (
        values.get("cookie_secret")
        or hmac.new(
            (get("COOKIE_SECRET", DEFAULT_COOKIE_SECRET) or DEFAULT_COOKIE_SECRET).encode(),
            b"streamlit-auth-cookie",
            hashlib.sha256,
        ).hexdigest()
    )
    known = {*OIDC_REQUIRED, "cookie_secret", "provider_name"}
    return {
        "oidc": OidcSettings(
            client_id=values["client_id"],
            client_secret=values["client_secret"],
            server_metadata_url=values["server_metadata_url"],
            redirect_uri=values["redirect_uri"],
            cookie_secret=cookie_secret,
            provider_name=values.get("provider_name", "single sign-on"),
            extra={key: value for key, value in auth.items() if key not in known},
        )
    }


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
