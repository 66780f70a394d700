"""Services on the real database: users, pools, commitments, and the audit trail of writes and refusals.

Services commit for real, so every test makes its own users and pools and compares counts
relative to before. Every refusal is checked to have written nothing but its refusal audit row.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text

from core.errors import (
    CapacityExceeded,
    DomainError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from core.permissions import Actor
from core.services import commitments, pools, users
from core.uow import UnitOfWork
from db.models import Commitment, Pool, User
from db.session import make_engine
from tests.workers import balances

D = Decimal
REAL_HASH = users.hash_password
SYSTEM = Actor.system()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real bcrypt at the lowest cost; the production cost is checked once, below."""
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


# --- helpers: what the database holds, and proof that a refusal wrote nothing -------------------------

WATCHED = (
    "users",
    "pools",
    "commitments",
    "journals",
    "entries",
    "capital_calls",
    "call_items",
    "operations",
)


def state(uow_factory: Callable[[], Any]) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of each table a service may write (audit log aside)."""
    with uow_factory() as uow:
        return {
            table: tuple(
                uow.session.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id::text), '')) "
                        f"FROM {table} t"
                    )
                ).one()
            )
            for table in WATCHED
        }


def last_audit_id(uow_factory: Callable[[], Any]) -> int:
    with uow_factory() as uow:
        return uow.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()


def audit_rows(uow_factory: Callable[[], Any], after_id: int) -> list[dict[str, Any]]:
    with uow_factory() as uow:
        rows = uow.session.execute(
            text(
                "SELECT actor_id, action, object_type, object_id, outcome, reason, before, after "
                "FROM audit_log WHERE id > :id ORDER BY id"
            ),
            {"id": after_id},
        ).mappings()
        return [dict(row) for row in rows]


def refused(
    uow_factory: Callable[[], Any],
    error: type[DomainError],
    service: Callable[..., Any],
    actor: Actor,
    *args: Any,
    action: str,
    match: str | None = None,
    **kwargs: Any,
) -> DomainError:
    """Call a writing service that must refuse: nothing written, one 'refused' audit row with the reason."""
    before, mark = state(uow_factory), last_audit_id(uow_factory)
    with uow_factory() as uow, pytest.raises(error) as caught:
        service(actor, uow, *args, **kwargs)
    if match is not None:
        assert match in caught.value.message, caught.value.message
    assert state(uow_factory) == before, "a refused request wrote something"
    rows = audit_rows(uow_factory, mark)
    assert len(rows) == 1, rows
    assert rows[0]["outcome"] == "refused"
    assert rows[0]["action"] == action
    assert rows[0]["actor_id"] == actor.user_id
    assert rows[0]["reason"] == caught.value.message
    return caught.value


def row(uow_factory: Callable[[], Any], model: type, object_id: int) -> Any:
    with uow_factory() as uow:
        found = uow.session.get(model, object_id)
        uow.session.expunge(found)
        return found


def commitment_balance(uow_factory: Callable[[], Any], pool_id: int, investor_id: int) -> Decimal:
    """Credit-positive balance of the investor's commitment account, from the ledger."""
    with uow_factory() as uow:
        return -balances(uow.session, pool_id, investor_id).get(("commitment", investor_id), D(0))


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture
def admin(make: Any) -> Actor:
    return make.user("admin")


# === users =========================================================================================


def test_production_password_hash_is_bcrypt_cost_12() -> None:
    hashed = REAL_HASH("a long enough password")
    assert hashed.startswith("$2b$12$")
    assert bcrypt.checkpw(b"a long enough password", hashed.encode())
    assert not bcrypt.checkpw(b"a long enough passwore", hashed.encode())


def test_admin_creates_a_user(uow_factory: Any, admin: Actor) -> None:
    username = unique("new.user_")
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        user_id, temporary = users.create_user(
            admin,
            uow,
            f"  {username.upper()} ",
            name="  New User ",
            email="new@example.com",
            role="investor",
            password="a-secret-password",
            kyc_status="approved",
            accreditation="accredited",
        )
    assert temporary is None
    user = row(uow_factory, User, user_id)
    assert (user.username, user.name, user.role, user.kyc_status, user.accreditation) == (
        username,
        "New User",
        "investor",
        "approved",
        "accredited",
    )
    assert user.active and not user.must_change_password and user.failed_logins == 0
    assert bcrypt.checkpw(b"a-secret-password", user.password_hash.encode())
    assert "a-secret-password" not in user.password_hash
    [audit] = audit_rows(uow_factory, mark)
    assert audit["action"] == "user.create" and audit["outcome"] == "ok"
    assert audit["actor_id"] == admin.user_id and audit["object_id"] == str(user_id)
    assert audit["after"] == {"username": username, "role": "investor"}


def test_user_created_without_a_password_gets_a_temporary_one(uow_factory: Any, admin: Actor) -> None:
    with uow_factory() as uow:
        user_id, temporary = users.create_user(
            admin, uow, unique("temp_"), name="Temp", email="t@example.com", role="analyst"
        )
    assert temporary and len(temporary) >= users.MIN_PASSWORD
    user = row(uow_factory, User, user_id)
    assert user.must_change_password
    assert user.kyc_status == "pending" and user.accreditation == "none"
    assert bcrypt.checkpw(temporary.encode(), user.password_hash.encode())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "<script>"}, "username"),
        ({"username": ""}, "username"),
        ({"name": ""}, "name"),
        ({"name": "<b>x</b>"}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"role": "superuser"}, "role"),
        ({"kyc_status": "maybe"}, "kyc_status"),
        ({"accreditation": "rich"}, "accreditation"),
        ({"password": "short"}, "password"),
        ({"password": "é" * 40}, "password"),  # 80 bytes: bcrypt would silently truncate
    ],
)
def test_create_user_refuses_bad_input(
    uow_factory: Any, admin: Actor, overrides: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "username": unique("u_"),
        "name": "Someone",
        "email": "s@example.com",
        "role": "investor",
        "password": "long-enough-pw",
    }
    args.update(overrides)
    username = args.pop("username")
    error = refused(
        uow_factory, ValidationError, users.create_user, admin, username, action="user.create", **args
    )
    assert error.field == field


def test_create_user_refuses_a_taken_username(uow_factory: Any, admin: Actor, make: Any) -> None:
    existing = make.user("investor")
    error = refused(
        uow_factory,
        ValidationError,
        users.create_user,
        admin,
        existing.username.upper(),
        name="Dup",
        email="d@example.com",
        role="investor",
        password="long-enough-pw",
        action="user.create",
    )
    assert error.field == "username" and error.reason == "is already taken"


@pytest.mark.parametrize("role", ["investor", "fund_manager", "analyst"])
def test_only_admins_create_users(uow_factory: Any, make: Any, role: str) -> None:
    actor = make.user(role)
    refused(
        uow_factory,
        PermissionDenied,
        users.create_user,
        actor,
        unique("x_"),
        name="X",
        email="x@example.com",
        role="admin",
        password="long-enough-pw",
        action="user.create",
    )


def test_set_role_and_kyc(uow_factory: Any, admin: Actor, make: Any) -> None:
    target = make.user("investor", kyc="pending", accreditation="none")
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        users.set_kyc_status(admin, uow, target.user_id, "approved", "qualified_purchaser")
    with uow_factory() as uow:
        users.set_role(admin, uow, target.user_id, "analyst")
    user = row(uow_factory, User, target.user_id)
    assert (user.role, user.kyc_status, user.accreditation) == ("analyst", "approved", "qualified_purchaser")
    kyc, role = audit_rows(uow_factory, mark)
    assert kyc["action"] == "user.set_kyc" and kyc["object_id"] == str(target.user_id)
    assert kyc["before"] == {"kyc_status": "pending", "accreditation": "none"}
    assert kyc["after"] == {"kyc_status": "approved", "accreditation": "qualified_purchaser"}
    assert (role["action"], role["before"], role["after"]) == (
        "user.set_role",
        {"role": "investor"},
        {"role": "analyst"},
    )
    # KYC without an accreditation keeps the accreditation.
    with uow_factory() as uow:
        users.set_kyc_status(admin, uow, target.user_id, "expired")
    user = row(uow_factory, User, target.user_id)
    assert (user.kyc_status, user.accreditation) == ("expired", "qualified_purchaser")


def test_user_admin_refusals(uow_factory: Any, admin: Actor, make: Any) -> None:
    target = make.user("investor")
    assert (
        refused(
            uow_factory,
            ValidationError,
            users.set_role,
            admin,
            target.user_id,
            "root",
            action="user.set_role",
        ).field
        == "role"
    )
    assert (
        refused(
            uow_factory,
            ValidationError,
            users.set_kyc_status,
            admin,
            target.user_id,
            "ok",
            action="user.set_kyc",
        ).field
        == "kyc_status"
    )
    assert (
        refused(
            uow_factory,
            ValidationError,
            users.set_kyc_status,
            admin,
            target.user_id,
            "approved",
            "rich",
            action="user.set_kyc",
        ).field
        == "accreditation"
    )
    refused(uow_factory, NotFound, users.set_role, admin, 10**12, "analyst", action="user.set_role")
    refused(
        uow_factory,
        PermissionDenied,
        users.set_kyc_status,
        target,
        target.user_id,
        "approved",
        action="user.set_kyc",
    )
    refused(
        uow_factory, PermissionDenied, users.set_role, target, target.user_id, "admin", action="user.set_role"
    )


@pytest.fixture
def lonely_db(fresh_database: str) -> Iterator[Callable[[], UnitOfWork]]:
    """A database of the test's own, where "the last admin" is knowable."""
    engine = make_engine(fresh_database, pool_size=2)
    yield lambda: UnitOfWork(engine)
    engine.dispose()


def test_the_last_admin_cannot_be_demoted_or_deactivated(lonely_db: Callable[[], UnitOfWork]) -> None:
    def create(role: str) -> Actor:
        name = unique(role[:3])
        with lonely_db() as uow:
            user_id, _ = users.create_user(
                SYSTEM,
                uow,
                name,
                name=name,
                email=f"{name}@example.com",
                role=role,
                password="long-enough-pw",
            )
        return Actor(user_id, role, name)

    first = create("admin")
    create("investor")
    err = refused(
        lonely_db, InvalidState, users.set_role, first, first.user_id, "investor", action="user.set_role"
    )
    assert err.message == "the last active admin cannot be demoted"
    err = refused(
        lonely_db, InvalidState, users.set_active, first, first.user_id, False, action="user.set_active"
    )
    assert err.message == "the last active admin cannot be deactivated"

    second = create("admin")
    with lonely_db() as uow:
        users.set_active(first, uow, second.user_id, False)
    # A deactivated admin does not count: the first is still the last active one.
    refused(lonely_db, InvalidState, users.set_role, first, first.user_id, "analyst", action="user.set_role")
    with lonely_db() as uow:
        users.set_active(first, uow, second.user_id, True)
    with lonely_db() as uow:
        users.set_role(second, uow, first.user_id, "analyst")
    refused(
        lonely_db, InvalidState, users.set_role, second, second.user_id, "investor", action="user.set_role"
    )
    with lonely_db() as uow:
        assert (
            uow.session.execute(
                text("SELECT count(*) FROM users WHERE role = 'admin' AND active")
            ).scalar_one()
            == 1
        )


def test_failed_logins_lock_the_account_in_the_database_and_an_admin_unlocks_it(
    uow_factory: Any, admin: Actor, make: Any
) -> None:
    person = make.user("investor")
    for attempt in range(1, 5):
        with uow_factory() as uow:
            assert users.record_login_failure(uow, person.username, max_failures=5, lock_minutes=15) is False
        assert row(uow_factory, User, person.user_id).failed_logins == attempt
    with uow_factory() as uow:
        assert (
            users.record_login_failure(uow, person.username.upper(), max_failures=5, lock_minutes=15) is True
        )
    user = row(uow_factory, User, person.user_id)
    assert user.locked_until is not None
    assert timedelta(minutes=14) < user.locked_until - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)
    with uow_factory() as uow:
        record = users.login_record(uow, person.username)
    assert record is not None and record.locked

    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        users.unlock_user(admin, uow, person.user_id)
    user = row(uow_factory, User, person.user_id)
    assert user.locked_until is None and user.failed_logins == 0
    with uow_factory() as uow:
        assert not users.login_record(uow, person.username).locked
    [audit] = audit_rows(uow_factory, mark)
    assert audit["action"] == "user.unlock" and audit["before"]["locked_until"] is not None

    refused(uow_factory, PermissionDenied, users.unlock_user, person, person.user_id, action="user.unlock")


def test_a_successful_login_resets_the_failure_count(uow_factory: Any, make: Any) -> None:
    person = make.user("analyst")
    for _ in range(3):
        with uow_factory() as uow:
            users.record_login_failure(uow, person.username, max_failures=5, lock_minutes=15)
    with uow_factory() as uow:
        users.record_login_success(uow, person.username)
    assert row(uow_factory, User, person.user_id).failed_logins == 0
    with uow_factory() as uow:
        assert (
            users.record_login_failure(
                uow, "no-such-user-" + secrets.token_hex(3), max_failures=5, lock_minutes=15
            )
            is False
        )


def test_a_deactivated_user_has_no_login_record(uow_factory: Any, admin: Actor, make: Any) -> None:
    person = make.user("investor")
    with uow_factory() as uow:
        users.set_active(admin, uow, person.user_id, False)
    with uow_factory() as uow:
        assert users.login_record(uow, person.username) is None
    with uow_factory() as uow:
        assert person.username in {u.username for u in users.list_users(admin, uow, person.username)}


# === pools =========================================================================================


def test_manager_creates_a_draft_pool(uow_factory: Any, make: Any) -> None:
    manager = make.user("fund_manager")
    name = unique("Fund **bold** _x_ ")
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        pool_id = pools.create_pool(
            manager,
            uow,
            make.terms(name=name, target_size="2,000,000.50", hard_cap="3000000", currency="EUR"),
        )
    pool = row(uow_factory, Pool, pool_id)
    assert pool.status == "draft" and pool.manager_id == manager.user_id
    assert pool.name == name.strip()
    assert pool.target_size == D("2000000.50") and pool.currency == "EUR"
    assert pool.opened_at is None
    [audit] = audit_rows(uow_factory, mark)
    assert (audit["action"], audit["object_type"], audit["object_id"]) == (
        "pool.create",
        "pool",
        str(pool_id),
    )
    assert audit["after"]["target_size"] == "2000000.50"


def test_draft_terms_can_be_edited(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(status="draft")
    new_terms = make.terms(
        name="Renamed Fund",
        target_size="800000",
        hard_cap="900000",
        max_ticket="90000",
        strategy="buyout",
        carry_rate="0.25",
    )
    with uow_factory() as uow:
        pools.update_pool_terms(manager, uow, pool_id, new_terms)
    pool = row(uow_factory, Pool, pool_id)
    assert (pool.name, pool.strategy, pool.target_size, pool.hard_cap, pool.max_ticket, pool.carry_rate) == (
        "Renamed Fund",
        "buyout",
        D("800000"),
        D("900000"),
        D("90000"),
        D("0.25"),
    )
    assert pool.status == "draft"
    error = refused(
        uow_factory,
        ValidationError,
        pools.update_pool_terms,
        manager,
        pool_id,
        make.terms(hard_cap="1"),
        action="pool.update_terms",
    )
    assert error.field == "hard_cap"


def test_open_pool_allows_only_the_close_date_to_move(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    pool = row(uow_factory, Pool, pool_id)
    current = {name: getattr(pool, name) for name in pools.TERM_FIELDS}
    err = refused(
        uow_factory,
        InvalidState,
        pools.update_pool_terms,
        manager,
        pool_id,
        {**current, "target_size": "1200000"},
        action="pool.update_terms",
    )
    assert err.message == "only the close date can change once the pool is open"
    refused(
        uow_factory,
        ValidationError,
        pools.update_pool_terms,
        manager,
        pool_id,
        {"close_date": date.today().isoformat()},
        action="pool.update_terms",
        match="must be in the future",
    )
    later = date.today() + timedelta(days=200)
    with uow_factory() as uow:
        pools.update_pool_terms(manager, uow, pool_id, {**current, "close_date": later.isoformat()})
    pool = row(uow_factory, Pool, pool_id)
    assert pool.close_date == later
    assert pool.target_size == D("1000000")


def test_pool_lifecycle(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(status="draft")
    refused(
        uow_factory,
        InvalidState,
        pools.close_pool,
        manager,
        pool_id,
        action="pool.close",
        match="a draft pool cannot become closed",
    )
    version = row(uow_factory, Pool, pool_id).version
    with uow_factory() as uow:
        pools.open_pool(manager, uow, pool_id)
    pool = row(uow_factory, Pool, pool_id)
    assert pool.status == "open" and pool.opened_at is not None and pool.version == version + 1
    refused(
        uow_factory,
        InvalidState,
        pools.open_pool,
        manager,
        pool_id,
        action="pool.open",
        match="a open pool cannot become open",
    )
    with uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    pool = row(uow_factory, Pool, pool_id)
    assert pool.status == "closed" and pool.closed_at is not None
    refused(
        uow_factory,
        InvalidState,
        pools.open_pool,
        manager,
        pool_id,
        action="pool.open",
        match="a closed pool cannot become open",
    )
    refused(uow_factory, InvalidState, pools.close_pool, manager, pool_id, action="pool.close")
    refused(
        uow_factory,
        InvalidState,
        pools.update_pool_terms,
        manager,
        pool_id,
        {"close_date": (date.today() + timedelta(days=400)).isoformat()},
        action="pool.update_terms",
        match="terms can no longer change",
    )


def test_a_draft_whose_close_date_passed_cannot_open(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(status="draft")
    with uow_factory() as uow:  # time passes: the drafted close date is now behind us
        uow.session.execute(
            text("UPDATE pools SET close_date = current_date - 1 WHERE id = :id"), {"id": pool_id}
        )
        uow.commit()
    error = refused(uow_factory, ValidationError, pools.open_pool, manager, pool_id, action="pool.open")
    assert error.field == "close_date"
    assert row(uow_factory, Pool, pool_id).status == "draft"


def test_unknown_pool_is_not_found(uow_factory: Any, make: Any) -> None:
    manager = make.user("fund_manager")
    refused(uow_factory, NotFound, pools.open_pool, manager, 10**12, action="pool.open")
    with uow_factory() as uow, pytest.raises(NotFound):
        pools.get_pool(manager, uow, 10**12)


# === commitments ===================================================================================


def test_an_eligible_investor_submits_a_commitment(uow_factory: Any, make: Any) -> None:
    pool_id, _ = make.pool()
    investor = make.user("investor")
    version = row(uow_factory, Pool, pool_id).version
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        commitment_id = commitments.submit_commitment(investor, uow, pool_id, "125,000.5")
    commitment = row(uow_factory, Commitment, commitment_id)
    assert (commitment.status, commitment.amount_requested, commitment.amount_accepted) == (
        "pending",
        D("125000.50"),
        None,
    )
    assert commitment.investor_id == investor.user_id and commitment.pool_id == pool_id
    assert row(uow_factory, Pool, pool_id).version == version + 1
    assert commitment_balance(uow_factory, pool_id, investor.user_id) == 0, (
        "pending commitments are not booked"
    )
    [audit] = audit_rows(uow_factory, mark)
    assert (audit["action"], audit["object_id"], audit["after"]) == (
        "commitment.submit",
        str(commitment_id),
        {"amount": "125000.50"},
    )
    with uow_factory() as uow:
        view = commitments.get_commitment(investor, uow, commitment_id)
    assert view.amount_requested == D("125000.50") and view.status == "pending" and view.currency == "USD"


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("9999.99", "is below the minimum ticket of $10,000.00"),
        ("500000.01", "is above the maximum ticket of $500,000.00"),
    ],
)
def test_commitment_tickets(uow_factory: Any, make: Any, amount: str, reason: str) -> None:
    pool_id, _ = make.pool()
    investor = make.user("investor")
    error = refused(
        uow_factory,
        ValidationError,
        commitments.submit_commitment,
        investor,
        pool_id,
        amount,
        action="commitment.submit",
    )
    assert (error.field, error.reason) == ("amount", reason)


def test_commitment_cannot_exceed_the_remaining_capacity(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(
        target_size="100000", hard_cap="150000", min_ticket="10000", max_ticket="100000"
    )
    make.commitment(pool_id, amount="100000", accept_as=manager)
    investor = make.user("investor")
    error = refused(
        uow_factory,
        ValidationError,
        commitments.submit_commitment,
        investor,
        pool_id,
        "60000",
        action="commitment.submit",
    )
    assert error.reason == "is above the room left under the hard cap, $50,000.00"
    with uow_factory() as uow:
        commitments.submit_commitment(investor, uow, pool_id, "50000")


@pytest.mark.parametrize(
    ("kyc", "accreditation", "min_accreditation"),
    [
        ("pending", "accredited", "accredited"),
        ("rejected", "qualified_purchaser", "accredited"),
        ("expired", "accredited", "none"),
        ("approved", "none", "accredited"),
        ("approved", "accredited", "qualified_purchaser"),
    ],
)
def test_ineligible_investors_are_refused(
    uow_factory: Any, make: Any, kyc: str, accreditation: str, min_accreditation: str
) -> None:
    pool_id, _ = make.pool(min_accreditation=min_accreditation)
    investor = make.user("investor", kyc=kyc, accreditation=accreditation)
    error = refused(
        uow_factory,
        PermissionDenied,
        commitments.submit_commitment,
        investor,
        pool_id,
        "50000",
        action="commitment.submit",
    )
    assert "not eligible" in error.message
    assert min_accreditation.replace("_", " ") in error.message


def test_eligibility_follows_kyc_changes(uow_factory: Any, make: Any) -> None:
    pool_id, _ = make.pool(min_accreditation="qualified_purchaser")
    admin = make.user("admin")
    investor = make.user("investor", kyc="pending", accreditation="none")
    refused(
        uow_factory,
        PermissionDenied,
        commitments.submit_commitment,
        investor,
        pool_id,
        "50000",
        action="commitment.submit",
    )
    with uow_factory() as uow:
        users.set_kyc_status(admin, uow, investor.user_id, "approved", "qualified_purchaser")
    with uow_factory() as uow:
        assert commitments.submit_commitment(investor, uow, pool_id, "50000")


@pytest.mark.parametrize("status", ["draft", "closed"])
def test_only_open_pools_take_commitments(uow_factory: Any, make: Any, status: str) -> None:
    pool_id, _ = make.pool(status=status)
    investor = make.user("investor")
    refused(
        uow_factory,
        InvalidState,
        commitments.submit_commitment,
        investor,
        pool_id,
        "50000",
        action="commitment.submit",
        match="not open for commitments",
    )


def test_one_live_commitment_per_investor_and_pool(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, investor = make.commitment(pool_id, amount="50000")
    refused(
        uow_factory,
        InvalidState,
        commitments.submit_commitment,
        investor,
        pool_id,
        "60000",
        action="commitment.submit",
        match="already have a live commitment",
    )
    with uow_factory() as uow:
        commitments.withdraw_commitment(investor, uow, commitment_id)
    again, _ = make.commitment(pool_id, investor=investor, amount="60000", accept_as=manager)
    refused(
        uow_factory,
        InvalidState,
        commitments.submit_commitment,
        investor,
        pool_id,
        "10000",
        action="commitment.submit",
        match="already have a live commitment",
    )
    assert row(uow_factory, Commitment, again).status == "accepted"


def test_manager_accepts_in_full_and_the_ledger_books_it(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, investor = make.commitment(pool_id, amount="120000")
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow:
        accepted = commitments.accept_commitment(manager, uow, commitment_id)
    assert accepted == D("120000")
    commitment = row(uow_factory, Commitment, commitment_id)
    assert (commitment.status, commitment.amount_accepted, commitment.decided_by) == (
        "accepted",
        D("120000"),
        manager.user_id,
    )
    assert commitment.decided_at is not None
    assert commitment_balance(uow_factory, pool_id, investor.user_id) == D("120000")
    with uow_factory() as uow:
        assert commitments.accepted_total(uow, pool_id) == D("120000")
        key_count = uow.session.execute(
            text("SELECT count(*) FROM journals WHERE idempotency_key = :k"),
            {"k": f"commitment:{commitment_id}"},
        ).scalar_one()
    assert key_count == 1
    actions = [a["action"] for a in audit_rows(uow_factory, mark)]
    assert actions == ["commitment.accept"]
    refused(
        uow_factory,
        InvalidState,
        commitments.accept_commitment,
        manager,
        commitment_id,
        action="commitment.accept",
        match="this commitment is accepted now, no longer pending",
    )


def test_manager_scales_a_commitment_down(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, investor = make.commitment(pool_id, amount="200000")
    error = refused(
        uow_factory,
        ValidationError,
        commitments.accept_commitment,
        manager,
        commitment_id,
        "200000.01",
        action="commitment.accept",
    )
    assert error.reason == "cannot be above what the investor asked for"
    error = refused(
        uow_factory,
        ValidationError,
        commitments.accept_commitment,
        manager,
        commitment_id,
        "5000",
        action="commitment.accept",
    )
    assert error.reason.startswith("is below the minimum ticket")
    error = refused(
        uow_factory,
        ValidationError,
        commitments.accept_commitment,
        manager,
        commitment_id,
        "-5",
        action="commitment.accept",
    )
    assert error.field == "amount"
    with uow_factory() as uow:
        assert commitments.accept_commitment(manager, uow, commitment_id, "150000") == D("150000")
    commitment = row(uow_factory, Commitment, commitment_id)
    assert (commitment.amount_requested, commitment.amount_accepted) == (D("200000"), D("150000"))
    assert commitment_balance(uow_factory, pool_id, investor.user_id) == D("150000")


def test_accepting_past_the_hard_cap_is_refused(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool(
        target_size="100000", hard_cap="150000", min_ticket="10000", max_ticket="100000"
    )
    first, _ = make.commitment(pool_id, amount="100000")
    second, _ = make.commitment(pool_id, amount="100000")  # fits at submission: nothing accepted yet
    with uow_factory() as uow:
        commitments.accept_commitment(manager, uow, first)
    error = refused(
        uow_factory,
        CapacityExceeded,
        commitments.accept_commitment,
        manager,
        second,
        action="commitment.accept",
    )
    assert error.message == "accepting $100,000.00 would exceed the hard cap; $50,000.00 left"
    # Scaling down to what is left is how the manager fits it in.
    with uow_factory() as uow:
        commitments.accept_commitment(manager, uow, second, "50000")
    with uow_factory() as uow:
        assert commitments.accepted_total(uow, pool_id) == D("150000")


def test_manager_rejects_a_commitment(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, investor = make.commitment(pool_id, amount="50000")
    before = state(uow_factory)["journals"]
    with uow_factory() as uow:
        commitments.reject_commitment(manager, uow, commitment_id)
    commitment = row(uow_factory, Commitment, commitment_id)
    assert (commitment.status, commitment.amount_accepted, commitment.decided_by) == (
        "rejected",
        None,
        manager.user_id,
    )
    assert state(uow_factory)["journals"] == before
    assert commitment_balance(uow_factory, pool_id, investor.user_id) == 0
    refused(
        uow_factory,
        InvalidState,
        commitments.reject_commitment,
        manager,
        commitment_id,
        action="commitment.reject",
        match="rejected now, no longer pending",
    )
    refused(
        uow_factory,
        InvalidState,
        commitments.accept_commitment,
        manager,
        commitment_id,
        action="commitment.accept",
        match="rejected now, no longer pending",
    )
    refused(
        uow_factory,
        InvalidState,
        commitments.withdraw_commitment,
        investor,
        commitment_id,
        action="commitment.withdraw",
        match="this one is rejected",
    )


def test_investor_withdraws_while_pending_but_not_once_accepted(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    pending, investor = make.commitment(pool_id, amount="50000")
    with uow_factory() as uow:
        commitments.withdraw_commitment(investor, uow, pending)
    assert row(uow_factory, Commitment, pending).status == "withdrawn"
    refused(
        uow_factory,
        InvalidState,
        commitments.withdraw_commitment,
        investor,
        pending,
        action="commitment.withdraw",
        match="this one is withdrawn",
    )
    refused(
        uow_factory,
        InvalidState,
        commitments.accept_commitment,
        manager,
        pending,
        action="commitment.accept",
        match="withdrawn now, no longer pending",
    )

    accepted, other = make.commitment(pool_id, amount="70000", accept_as=manager)
    error = refused(
        uow_factory,
        InvalidState,
        commitments.withdraw_commitment,
        other,
        accepted,
        action="commitment.withdraw",
    )
    assert error.message == "only a pending commitment can be withdrawn; this one is accepted"
    assert commitment_balance(uow_factory, pool_id, other.user_id) == D("70000")


def test_commitments_can_still_be_decided_after_close_but_not_in_a_draft(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, _ = make.commitment(pool_id, amount="50000")
    with uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    with uow_factory() as uow:
        assert commitments.accept_commitment(manager, uow, commitment_id) == D("50000")


def test_fundraising_summary_comes_from_the_commitments(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    make.commitment(pool_id, amount="100000", accept_as=manager)
    make.commitment(pool_id, amount="40000", accept_as=manager)
    make.commitment(pool_id, amount="25000")
    with uow_factory() as uow:
        summary = pools.fundraising(manager, uow, pool_id)
    assert (summary.accepted, summary.pending, summary.investors) == (D("140000"), D("25000"), 2)
    assert summary.remaining == D("1500000") - D("140000")


# === audit trail ==================================================================================


def test_refusals_are_audited_even_though_the_write_is_rolled_back(uow_factory: Any, make: Any) -> None:
    pool_id, manager = make.pool()
    other_manager = make.user("fund_manager")
    mark = last_audit_id(uow_factory)
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        pools.close_pool(other_manager, uow, pool_id)
    [audit] = audit_rows(uow_factory, mark)
    assert audit == {
        "actor_id": other_manager.user_id,
        "action": "pool.close",
        "object_type": "pool",
        "object_id": str(pool_id),
        "outcome": "refused",
        "reason": "only the pool's manager may do this",
        "before": None,
        "after": None,
    }
    assert row(uow_factory, Pool, pool_id).status == "open"


def test_the_unit_of_work_is_usable_after_a_refusal(uow_factory: Any, make: Any) -> None:
    # A page keeps running after a refusal: the same unit of work serves the next request.
    pool_id, manager = make.pool(status="draft")
    with uow_factory() as uow:
        with pytest.raises(InvalidState):
            pools.close_pool(manager, uow, pool_id)
        pools.open_pool(manager, uow, pool_id)
    assert row(uow_factory, Pool, pool_id).status == "open"
