"""Secrets never reach a log line or a repr: connection strings are masked, settings hide their keys,
and user text in markdown is shown as text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.textsafe import md
from core.logs import JsonFormatter, TextFormatter, mask_secrets
from core.settings import load_settings

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f"postgresql://pools:{SECRET}@db.internal:5432/pools",
            "postgresql://pools:***@db.internal:5432/pools",
        ),
        (
            f"postgresql+psycopg://pools:{SECRET}@db:5432/x?sslmode=verify-full",
            "postgresql+psycopg://pools:***@db:5432/x?sslmode=verify-full",
        ),
        (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
        (f"rediss://default:{SECRET}@cache:6380/1", "rediss://default:***@cache:6380/1"),
        (f"redis://u:p@ss{SECRET}@cache:6379", "redis://u:***@cache:6379"),  # an unencoded @ too
        (
            f"host=db user=pools password={SECRET} dbname=pools",
            "host=db user=pools password=*** dbname=pools",
        ),
        (f"Settings(cookie_secret='{SECRET}')", "Settings(cookie_secret='***')"),
        ("postgresql://pools@db:5432/pools", "postgresql://pools@db:5432/pools"),  # nothing to hide
        ("see https://example.com/a:b@c for details", "see https://example.com/a:b@c for details"),
    ],
)
def test_connection_strings_and_settings_are_masked(text: str, shown: str) -> None:
    assert mask_secrets(text) == shown
    assert SECRET not in mask_secrets(text)


def _line(formatter: logging.Formatter, message: str, *args: object, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.masking.{id(formatter)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    if exc:
        try:
            raise ConnectionError(f"could not connect to postgresql://app:{SECRET}@db/pools")
        except ConnectionError:
            logger.exception(message, *args)
    else:
        logger.warning(message, *args)
    return stream.getvalue()


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
def test_no_log_line_carries_a_password(formatter: logging.Formatter) -> None:
    line = _line(formatter, "connecting to %s", f"redis://:{SECRET}@cache:6379/0")
    assert SECRET not in line and "redis://:***@cache:6379/0" in line
    line = _line(formatter, "engine failed", exc=True)
    assert SECRET not in line and "postgresql://app:***@db/pools" in line
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["exception"]


def test_settings_repr_shows_no_secret() -> None:
    config = load_settings(
        {
            "DATABASE_URL": f"postgresql://pools:{SECRET}@db/pools",
            "REDIS_URL": f"redis://:{SECRET}@cache:6379/0",
            "COOKIE_SECRET": SECRET * 4,
            "OIDC_CLIENT_ID": "pools",
            "OIDC_CLIENT_SECRET": SECRET,
            "OIDC_SERVER_METADATA_URL": "https://id.example/.well-known/openid-configuration",
            "OIDC_REDIRECT_URI": "https://pools.example/oauth2callback",
        }
    )
    assert SECRET not in repr(config) and SECRET not in str(config)


# The WORD JOINER md() puts where an autolink would otherwise start (app/textsafe.py).
J = "\u2060"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        (
            "[Claim your refund](https://evil.example)",
            r"\[Claim your refund\](https\:" + J + "//evil.example)",
        ),
        ("![pixel](http://evil/x.png)", r"!\[pixel\](http\:" + J + "//evil/x.png)"),
        ("**URGENT** _pay_ `now` ~~gone~~", r"\*\*URGENT\*\* \_pay\_ \`now\` \~\~gone\~\~"),
        (
            "$x^2$ :red[alert] &amp; <https://evil>",
            r"\$x^2\$ :red\[alert\] \&amp; <" + J + r"https\:" + J + "//evil>",
        ),
        ("> quoted", r"\> quoted"),
        ("# heading", r"\# heading"),
        ("- item", r"\- item"),
        ("1. first", r"1\. first"),
        ("visit www.evil.example", "visit www" + J + r"\.evil.example"),
        ("two\nlines", "two lines"),
        # Plain messages keep their markdown source as they are (intraword _ cannot emphasise).
        ("due_date: must be after 01-02-2026, 10,000.00", "due_date: must be after 01-02-2026, 10,000.00"),
    ],
)
def test_markdown_escaping_shows_user_text_as_text(text: str, escaped: str) -> None:
    assert md(text) == escaped


def test_markdown_escaping_of_nothing() -> None:
    assert md(None) == ""
