"""Invites and provider sign-in on the real database.

An admin invites an email address with a role; nobody else may, and every refusal is audited.
A provider sign-in is matched to an active user by its *verified* email, case-insensitively;
anything else is refused with a reason a person can read. The schema change behind it (migration
0002) is additive.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text

from core.errors import PermissionDenied, ValidationError
from core.permissions import ROLES, Actor
from core.services import users


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def unique_email(prefix: str = "invitee") -> str:
    return f"{prefix}.{secrets.token_hex(4)}@Example.org"


def user_row(uow_factory: Callable[[], Any], email: str) -> dict[str, Any] | None:
    with uow_factory() as uow:
        row = (
            uow.session.execute(
                text(
                    "SELECT id, username, name, email, role, active, password_hash, last_seen_at "
                    "FROM users WHERE lower(email) = lower(:e)"
                ),
                {"e": email},
            )
            .mappings()
            .all()
        )
    assert len(row) <= 1
    return dict(row[0]) if row else None


def audits(uow_factory: Callable[[], Any], action: str, object_id: object) -> list[tuple[Any, ...]]:
    with uow_factory() as uow:
        return [
            tuple(r)
            for r in uow.session.execute(
                text(
                    "SELECT actor_id, outcome, reason, after FROM audit_log "
                    "WHERE action = :a AND object_id = :o ORDER BY id"
                ),
                {"a": action, "o": str(object_id)},
            )
        ]


# --- invite ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_an_admin_invites_an_email_with_the_role_they_choose(make: Any, uow_factory: Any, role: str) -> None:
    admin = make.user("admin")
    email = unique_email("Jane.Doe")
    with uow_factory() as uow:
        invited = users.invite_user(admin, uow, f"  {email} ", role=role, name="Jane Doe")
    assert (invited.email, invited.role, invited.name, invited.active) == (email, role, "Jane Doe", True)
    assert invited.username.startswith("jane.doe.")
    row = user_row(uow_factory, email)
    assert row is not None and row["role"] == role and row["username"] == invited.username
    # No usable password: nothing a person could type matches the hash.
    for guess in ("", "password", email, invited.username, "correct-horse-battery"):
        assert not bcrypt.checkpw(guess.encode(), row["password_hash"].encode())
    with uow_factory() as uow:
        assert users.login_record(uow, invited.username) is not None  # an active user all the same
    [(actor_id, outcome, reason, after)] = audits(uow_factory, "user.invite", invited.id)
    assert (actor_id, outcome, reason) == (admin.user_id, "ok", None)
    assert after == {"username": invited.username, "email": email, "role": role}


def test_the_name_defaults_to_the_address_and_usernames_never_collide(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    local = f"sam{secrets.token_hex(3)}"
    with uow_factory() as uow:
        first = users.invite_user(admin, uow, f"{local}@one.example.com", role="analyst")
    with uow_factory() as uow:
        second = users.invite_user(admin, uow, f"{local}@two.example.com", role="investor")
    assert first.name == local and first.username == local
    assert second.username == f"{local}-2"


@pytest.mark.parametrize("role", ["investor", "fund_manager", "analyst"])
def test_only_an_admin_may_invite_and_the_refusal_is_audited(make: Any, uow_factory: Any, role: str) -> None:
    intruder = make.user(role)
    email = unique_email()
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        users.invite_user(intruder, uow, email, role="admin")
    assert user_row(uow_factory, email) is None
    [(actor_id, outcome, reason, _)] = audits(uow_factory, "user.invite", email)
    assert (actor_id, outcome) == (intruder.user_id, "refused")
    assert reason and "may not" in reason


def test_a_duplicate_email_is_refused_whatever_its_case(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    existing = make.user("investor")  # created with {username}@example.com
    taken = f"{existing.username.upper()}@EXAMPLE.COM"
    with uow_factory() as uow, pytest.raises(ValidationError, match="already belongs to a user"):
        users.invite_user(admin, uow, taken, role="admin")
    [(actor_id, outcome, reason, _)] = audits(uow_factory, "user.invite", taken)
    assert (actor_id, outcome, reason) == (admin.user_id, "refused", "Email already belongs to a user")

    email = unique_email()
    with uow_factory() as uow:
        users.invite_user(admin, uow, email, role="investor")
    with uow_factory() as uow, pytest.raises(ValidationError, match="already belongs to a user"):
        users.invite_user(admin, uow, email.lower(), role="admin")
    row = user_row(uow_factory, email)
    assert row is not None and row["role"] == "investor", "the refused invite changed nothing"


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [
        ("not-an-email", "investor", "email"),
        ("a b@example.com", "investor", "email"),
        ("", "investor", "email"),
        ("someone@example.com", "superuser", "role"),
    ],
)
def test_bad_invites_are_refused(make: Any, uow_factory: Any, email: str, role: str, field: str) -> None:
    admin = make.user("admin")
    with uow_factory() as uow, pytest.raises(ValidationError) as caught:
        users.invite_user(admin, uow, email, role=role)
    assert caught.value.field == field


# --- matching a provider's identity to a user -----------------------------------------------------


def invited(make: Any, uow_factory: Any, role: str = "investor", email: str | None = None) -> Any:
    admin = make.user("admin")
    with uow_factory() as uow:
        return users.invite_user(admin, uow, email or unique_email(), role=role)


@pytest.mark.parametrize("verified", [True, "true", "TRUE"])
def test_a_verified_email_finds_its_user_case_insensitively(
    make: Any, uow_factory: Any, verified: object
) -> None:
    person = invited(make, uow_factory, "fund_manager", email=unique_email("Mixed.Case"))
    for spelling in (person.email, person.email.lower(), person.email.upper(), f" {person.email} "):
        with uow_factory() as uow:
            record = users.provider_login_record(uow, spelling, verified)
        assert (record.id, record.username, record.role) == (person.id, person.username, "fund_manager")


@pytest.mark.parametrize("verified", [False, None, "false", "yes", 1, "1"])
def test_an_unverified_email_is_refused(make: Any, uow_factory: Any, verified: object) -> None:
    person = invited(make, uow_factory)
    with uow_factory() as uow, pytest.raises(users.ProviderLoginRefused, match="has not verified"):
        users.provider_login_record(uow, person.email, verified)


@pytest.mark.parametrize("email", [None, "", "not-an-email", 42])
def test_no_usable_email_is_refused(uow_factory: Any, email: object) -> None:
    with uow_factory() as uow, pytest.raises(users.ProviderLoginRefused, match="did not share an email"):
        users.provider_login_record(uow, email, True)


def test_an_unknown_or_deactivated_email_is_refused(make: Any, uow_factory: Any) -> None:
    with (
        uow_factory() as uow,
        pytest.raises(users.ProviderLoginRefused, match="Ask an administrator to invite"),
    ):
        users.provider_login_record(uow, unique_email("stranger"), True)
    person = invited(make, uow_factory)
    admin = make.user("admin")
    with uow_factory() as uow:
        users.set_active(admin, uow, person.id, False)
    with uow_factory() as uow, pytest.raises(users.ProviderLoginRefused, match="no active account"):
        users.provider_login_record(uow, person.email, True)


def test_two_accounts_with_one_email_are_refused_not_guessed(make: Any, uow_factory: Any) -> None:
    email = unique_email("shared")
    for suffix in ("a", "b"):
        with uow_factory() as uow:
            users.create_user(
                Actor.system(),
                uow,
                f"shared{suffix}{secrets.token_hex(3)}",
                name="Shared",
                email=email if suffix == "a" else email.upper(),
                role="admin" if suffix == "a" else "investor",
                password="correct-horse-battery",
            )
    with uow_factory() as uow, pytest.raises(users.ProviderLoginRefused, match="More than one account"):
        users.provider_login_record(uow, email, True)


def test_roles_come_from_the_database_and_a_password_lockout_does_not_apply(
    make: Any, uow_factory: Any
) -> None:
    person = invited(make, uow_factory, "analyst")
    with uow_factory() as uow:
        uow.session.execute(
            text("UPDATE users SET locked_until = now() + interval '1 hour' WHERE id = :id"),
            {"id": person.id},
        )
        uow.commit()
    with uow_factory() as uow:
        record = users.provider_login_record(uow, person.email, True)
    assert record.role == "analyst"
    admin = make.user("admin")
    with uow_factory() as uow:
        users.set_role(admin, uow, person.id, "fund_manager")
    with uow_factory() as uow:
        assert users.provider_login_record(uow, person.email, True).role == "fund_manager"


def test_sign_in_outcomes_are_audited(make: Any, uow_factory: Any) -> None:
    stranger = unique_email("stranger")
    with uow_factory() as uow:
        users.record_provider_refusal(uow, stranger, "There is no active account")
    [(actor_id, outcome, reason, _)] = audits(uow_factory, "login.provider", stranger)
    assert (actor_id, outcome, reason) == (None, "refused", "There is no active account")

    person = invited(make, uow_factory)
    before = datetime.now(UTC) - timedelta(seconds=5)
    with uow_factory() as uow:
        users.record_provider_login(uow, person.id, provider="Example ID")
    [(actor_id, outcome, _, after)] = audits(uow_factory, "login.provider", person.id)
    assert (actor_id, outcome, after) == (person.id, "ok", {"provider": "Example ID"})
    row = user_row(uow_factory, person.email)
    assert row is not None and row["last_seen_at"] > before


def test_migration_0002_is_additive(uow_factory: Any) -> None:
    with uow_factory() as uow:
        column = uow.session.execute(
            text(
                "SELECT is_nullable, column_default FROM information_schema.columns "
                "WHERE table_name = 'users' AND column_name = 'last_seen_at'"
            )
        ).one()
        index = uow.session.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_users_email_lower'")
        ).scalar_one()
    assert tuple(column) == ("YES", None)
    assert "lower((email)::text)" in index
