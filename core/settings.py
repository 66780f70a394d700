"""Settings: read once from the environment (or .streamlit/secrets.toml), never from os.environ elsewhere."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COOKIE_SECRET = "demo-cookie-secret-not-for-production-use"  # noqa: S105  (refused outside demo mode)
MIN_COOKIE_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    environment: str = "demo"  # demo | test | production
    cookie_secret: str = DEFAULT_COOKIE_SECRET
    cookie_name: str = "investment_pools_auth"
    cookie_expiry_days: float = 1.0
    data_dir: Path = field(default=ROOT / "data")
    queue_name: str = "operations"
    operation_timeout_seconds: int = 300
    operation_batch_size: int = 20_000  # investors per transaction of a bulk operation (kinds.BATCH)
    sweep_pending_after_seconds: int = 30
    sweep_interval_seconds: int = 15
    metrics_port: int = 0
    lockout_failures: int = 5
    lockout_minutes: int = 15
    log_level: str = "INFO"
    log_format: str = "text"  # text | json

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
        value = env.get(name)
        if value in (None, ""):
            value = secrets.get(name, secrets.get(name.lower()))
        return default if value in (None, "") else str(value)

    return Settings(
        database_url=get("DATABASE_URL"),
        redis_url=get("REDIS_URL"),
        environment=get("APP_ENV", "demo") or "demo",
        cookie_secret=get("COOKIE_SECRET", DEFAULT_COOKIE_SECRET) or DEFAULT_COOKIE_SECRET,
        cookie_name=get("COOKIE_NAME", "investment_pools_auth") or "investment_pools_auth",
        cookie_expiry_days=float(get("COOKIE_EXPIRY_DAYS", "1") or 1),
        data_dir=Path(get("DATA_DIR", str(ROOT / "data")) or ROOT / "data"),
        queue_name=get("QUEUE_NAME", "operations") or "operations",
        operation_timeout_seconds=int(get("OPERATION_TIMEOUT_SECONDS", "300") or 300),
        operation_batch_size=max(1, int(get("OPERATION_BATCH_SIZE", "20000") or 20000)),
        sweep_pending_after_seconds=int(get("SWEEP_PENDING_AFTER_SECONDS", "30") or 30),
        sweep_interval_seconds=int(get("SWEEP_INTERVAL_SECONDS", "15") or 15),
        metrics_port=int(get("METRICS_PORT", "0") or 0),
        lockout_failures=int(get("LOCKOUT_FAILURES", "5") or 5),
        lockout_minutes=int(get("LOCKOUT_MINUTES", "15") or 15),
        log_level=get("LOG_LEVEL", "INFO") or "INFO",
        log_format=get("LOG_FORMAT", "text") or "text",
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
