"""Bad input through the real services: a clear ValidationError naming the field, and nothing written.

Pool creation, draft edits, commitments and scale-downs each get the full list: negative, zero,
NaN, infinite, non-numeric, over-precise and absurd amounts; unknown currencies; inverted bounds;
past close dates; empty, huge, HTML and control-character names. Markdown in a name is not an
attack (pages render names as plain text) and is stored exactly as typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text

from core.errors import ValidationError, field_label
from core.permissions import Actor
from core.services import commitments, pools, users
from tests.workers import table_state

D = Decimal
TODAY = date.today()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


WATCHED = ("users", "pools", "commitments", "journals", "entries")


def state(uow_factory: Callable[[], Any]) -> dict[str, tuple[Any, ...]]:
    return table_state(uow_factory, WATCHED)


def refused_field(
    uow_factory: Callable[[], Any], service: Callable[..., Any], actor: Actor, *args: Any, action: str
) -> ValidationError:
    """The service raises ValidationError, writes nothing, and the refusal is in the audit log."""
    before = state(uow_factory)
    with uow_factory() as uow:
        mark = uow.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    with uow_factory() as uow, pytest.raises(ValidationError) as caught:
        service(actor, uow, *args)
    error = caught.value
    assert state(uow_factory) == before, "refused input was written"
    with uow_factory() as uow:
        audits = uow.session.execute(
            text("SELECT action, outcome, reason FROM audit_log WHERE id > :id ORDER BY id"), {"id": mark}
        ).all()
    assert [tuple(a) for a in audits] == [(action, "refused", error.message)]
    # A message a person can read: the field's label (not its code), then why.
    assert error.message == f"{field_label(error.field)} {error.reason}"
    assert not error.message.startswith(f"{error.field}:")
    assert error.reason and len(error.message) < 200
    return error


# --- the catalogue of bad amounts ------------------------------------------------------------------

BAD_AMOUNTS = [
    pytest.param("-100000", "must be greater than zero", id="negative"),
    pytest.param("0", "must be greater than zero", id="zero"),
    pytest.param("0.00", "must be greater than zero", id="zero-with-decimals"),
    pytest.param("NaN", "is not a number", id="nan"),
    pytest.param("Infinity", "is not a number", id="infinity"),
    pytest.param("-inf", "is not a number", id="minus-infinity"),
    pytest.param("1e9", "must be written out in digits (1e9 and the like are not accepted)", id="exponent"),
    pytest.param(D("NaN"), "must be a finite number", id="decimal-nan"),
    pytest.param("lots of money", "is not a number", id="non-numeric"),
    pytest.param("$100000", "is not a number", id="currency-symbol"),
    pytest.param("", "is required", id="empty"),
    pytest.param(None, "is not a number", id="none"),
    pytest.param(100000.0, "must be given as a decimal string or Decimal, not a float", id="float"),
    pytest.param("100000.001", "has more than 2 decimal places for USD", id="over-precise"),
    pytest.param("1" + "0" * 16, "is too large", id="absurd-exponent"),
    pytest.param("9" * 30, "is too large", id="absurd-digits"),
    pytest.param(10**40, "is too large", id="absurd-int"),
    pytest.param("1" * 50, "is not a number", id="absurdly-long-text"),
]

AMOUNT_FIELDS = ("target_size", "hard_cap", "min_ticket", "max_ticket")


# --- pool creation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", AMOUNT_FIELDS)
@pytest.mark.parametrize(("value", "reason"), BAD_AMOUNTS)
def test_pool_amounts(uow_factory: Any, make: Any, field: str, value: object, reason: str) -> None:
    manager = make.user("fund_manager")
    error = refused_field(
        uow_factory, pools.create_pool, manager, make.terms(**{field: value}), action="pool.create"
    )
    assert (error.field, error.reason) == (field, reason)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'"),
        ({"currency": "usd"}, "currency", "unknown currency 'usd'"),
        ({"currency": ""}, "currency", "is needed"),
        ({"currency": None}, "currency", "is needed"),
        ({"currency": "US Dollars and then some"}, "currency", "unknown currency 'US Dollars a'"),
        (
            {"min_ticket": "600000", "max_ticket": "500000"},
            "min_ticket",
            "must not be above the maximum ticket",
        ),
        (
            {"target_size": "1000000", "hard_cap": "999999.99"},
            "hard_cap",
            "must not be below the target size",
        ),
        ({"max_ticket": "2000000"}, "max_ticket", "must not be above the hard cap"),
        ({"close_date": (TODAY - timedelta(days=1)).isoformat()}, "close_date", "must be in the future"),
        ({"close_date": TODAY.isoformat()}, "close_date", "must be in the future"),
        ({"close_date": "2001-01-01"}, "close_date", "must be in the future"),
        ({"close_date": "next week"}, "close_date", "must be a date (YYYY-MM-DD)"),
        ({"close_date": "2031-02-30"}, "close_date", "must be a date (YYYY-MM-DD)"),
        (
            {"currency": "JPY", "min_ticket": "10000.5"},
            "min_ticket",
            "has more than 0 decimal places for JPY",
        ),
        (
            {"currency": "KWD", "max_ticket": "1000.0001"},
            "max_ticket",
            "has more than 3 decimal places for KWD",
        ),
        ({"strategy": "<script>"}, "strategy", None),
        ({"carry_rate": "20"}, "carry_rate", None),
        ({"management_fee_rate": "NaN"}, "management_fee_rate", "is not a number"),
        ({"hurdle_rate": "-0.01"}, "hurdle_rate", "must not be negative"),
        ({"min_accreditation": "anyone"}, "min_accreditation", None),
    ],
)
def test_pool_terms(
    uow_factory: Any, make: Any, overrides: dict[str, Any], field: str, reason: str | None
) -> None:
    manager = make.user("fund_manager")
    error = refused_field(
        uow_factory, pools.create_pool, manager, make.terms(**overrides), action="pool.create"
    )
    assert error.field == field
    if reason is not None:
        assert error.reason == reason


BAD_NAMES = [
    pytest.param("", "is required", id="empty"),
    pytest.param("   \t ", "is required", id="blank-with-tab"),
    pytest.param("Fund\tII", "must not contain control characters or line breaks", id="inner-tab"),
    pytest.param("    ", "is required", id="spaces"),
    pytest.param("x" * 10_000, "must be at most 120 characters", id="10000-chars"),
    pytest.param("x" * 121, "must be at most 120 characters", id="121-chars"),
    pytest.param("<script>alert('pwned')</script>", "must not contain < or > (no HTML)", id="script"),
    pytest.param("<b>Bold</b> Fund", "must not contain < or > (no HTML)", id="html-tag"),
    pytest.param('<img src=x onerror="alert(1)">', "must not contain < or > (no HTML)", id="img-onerror"),
    pytest.param("Fund I\nInjected line", "must not contain control characters or line breaks", id="newline"),
    pytest.param("Fund\x00", "must not contain control characters or line breaks", id="nul"),
    pytest.param(None, "must be text", id="none"),
    pytest.param(12345, "must be text", id="number"),
]


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES)
def test_pool_names(uow_factory: Any, make: Any, name: object, reason: str) -> None:
    manager = make.user("fund_manager")
    error = refused_field(
        uow_factory, pools.create_pool, manager, make.terms(name=name), action="pool.create"
    )
    assert (error.field, error.reason) == ("name", reason)


@pytest.mark.parametrize(
    "name",
    [
        "**Bold** Ventures",
        "_Italic_ & `Code` Fund # 1",
        "[Click me](javascript:alert(1))",
        "Growth | Fund || ~~II~~",
        'O\'Brien "Quoted" Fund; DROP TABLE pools;--',
        "Fonds Côte d’Azur — Série A 🚀",
        "x" * 120,
    ],
)
def test_markdown_and_punctuation_in_names_are_stored_literally(
    uow_factory: Any, make: Any, name: str
) -> None:
    pool_id, manager = make.pool(status="draft", name=name)
    with uow_factory() as uow:
        assert pools.get_pool(manager, uow, pool_id).name == name
        stored = uow.session.execute(
            text("SELECT name FROM pools WHERE id = :id"), {"id": pool_id}
        ).scalar_one()
    assert stored == name


def test_names_are_trimmed_and_normalised(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(status="draft", name="  Cafe\u0301 Fund  ")
    with uow_factory() as uow:
        assert pools.get_pool(manager, uow, pool_id).name == "Caf\u00e9 Fund"


def test_good_amounts_are_stored_exactly(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(
        status="draft",
        target_size="1,000,000.10",
        hard_cap="1_500_000",
        min_ticket=D("10000.5"),
        max_ticket=500000,
    )
    with uow_factory() as uow:
        view = pools.get_pool(manager, uow, pool_id)
    assert (view.target_size, view.hard_cap, view.min_ticket, view.max_ticket) == (
        D("1000000.10"),
        D("1500000"),
        D("10000.50"),
        D("500000"),
    )


# --- editing a draft takes the same checks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target_size": "-1"}, "target_size"),
        ({"hard_cap": "Infinity"}, "hard_cap"),
        ({"min_ticket": "abc"}, "min_ticket"),
        ({"max_ticket": "1e20"}, "max_ticket"),
        ({"currency": "ABC"}, "currency"),
        ({"name": "<i>x</i>"}, "name"),
        ({"name": "y" * 10_000}, "name"),
        ({"close_date": "1999-12-31"}, "close_date"),
        ({"min_ticket": "500001"}, "min_ticket"),
    ],
)
def test_draft_edits(uow_factory: Any, make: Any, overrides: dict[str, Any], field: str) -> None:
    pool_id, manager = make.pool(status="draft")
    error = refused_field(
        uow_factory,
        pools.update_pool_terms,
        manager,
        pool_id,
        make.terms(**overrides),
        action="pool.update_terms",
    )
    assert error.field == field


# --- commitments -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def usd_pool() -> tuple[int, Actor]:
    """One open USD pool shared by the commitment cases: nothing is ever written to it."""
    from core import bootstrap
    from tests.conftest import Factory

    return Factory(bootstrap.unit_of_work).pool(min_ticket="1", max_ticket="500000")


@pytest.mark.parametrize(("value", "reason"), BAD_AMOUNTS)
def test_commitment_amounts(
    uow_factory: Any, make: Any, usd_pool: tuple[int, Actor], value: object, reason: str
) -> None:
    investor = make.user("investor")
    error = refused_field(
        uow_factory, commitments.submit_commitment, investor, usd_pool[0], value, action="commitment.submit"
    )
    assert (error.field, error.reason) == ("amount", reason)


@pytest.mark.parametrize(
    ("currency", "amount", "reason"),
    [
        ("JPY", "10000.5", "has more than 0 decimal places for JPY"),
        ("KWD", "10000.0001", "has more than 3 decimal places for KWD"),
        ("EUR", "10000.999", "has more than 2 decimal places for EUR"),
    ],
)
def test_commitment_precision_follows_the_pool_currency(
    uow_factory: Any, make: Any, currency: str, amount: str, reason: str
) -> None:
    pool_id, _ = make.pool(currency=currency)
    investor = make.user("investor")
    error = refused_field(
        uow_factory, commitments.submit_commitment, investor, pool_id, amount, action="commitment.submit"
    )
    assert (error.field, error.reason) == ("amount", reason)


@pytest.mark.parametrize(("value", "reason"), [p for p in BAD_AMOUNTS if p.id not in ("empty", "none")])
def test_scale_down_amounts(uow_factory: Any, make: Any, value: object, reason: str) -> None:
    # Empty and None mean "accept in full", so they are not bad input here.
    pool_id, manager = make.pool()
    commitment_id, _ = make.commitment(pool_id, amount="100000")
    error = refused_field(
        uow_factory, commitments.accept_commitment, manager, commitment_id, value, action="commitment.accept"
    )
    assert (error.field, error.reason) == ("amount", reason)
