"""Every service checks permission on the very object it touches: a hidden page is not a check.

Writes that are refused write nothing and leave a 'refused' audit row; reads that are refused
return nothing and are audited too. Each refusal is paired with the rightful actor succeeding, so a test cannot pass
because the request was broken for some other reason.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text

from core import operations
from core.errors import PermissionDenied, ValidationError
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


def denied(
    uow_factory: Callable[[], Any],
    service: Callable[..., Any],
    actor: Actor,
    *args: Any,
    action: str | None = None,
    **kwargs: Any,
) -> PermissionDenied:
    """PermissionDenied, nothing written; for writes (action given) one refused audit row."""
    before = state(uow_factory)
    with uow_factory() as uow:
        mark = uow.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    with uow_factory() as uow, pytest.raises(PermissionDenied) as caught:
        service(actor, uow, *args, **kwargs)
    assert state(uow_factory) == before
    with uow_factory() as uow:
        audits = [
            tuple(r)
            for r in uow.session.execute(
                text("SELECT action, actor_id, outcome, reason FROM audit_log WHERE id > :id ORDER BY id"),
                {"id": mark},
            )
        ]
    if action is None:  # a refused read of what is not theirs is audited too, as read.<module>.<service>
        assert [(a[1], a[2], a[3]) for a in audits] == [(actor.user_id, "refused", caught.value.message)]
        assert audits[0][0].startswith("read.")
    else:
        assert audits == [(action, actor.user_id, "refused", caught.value.message)]
    return caught.value


def key() -> str:
    return f"perm:{secrets.token_hex(8)}"


def investment(pool_id: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A request that moves a pool's money: buying into a company with its cash."""
    return (pool_id, "investment", {"company": "Acme", "amount": "10.00"}), {"idempotency_key": key()}


@dataclass
class World:
    manager: Actor
    other_manager: Actor
    investor: Actor
    other_investor: Actor
    analyst: Actor
    admin: Actor
    pool_id: int
    draft_id: int
    commitment_id: int  # the investor's, pending
    accepted_id: int  # the other investor's, accepted


@pytest.fixture
def world(make: Any) -> World:
    manager, other_manager = make.user("fund_manager"), make.user("fund_manager")
    pool_id, _ = make.pool(manager)
    draft_id, _ = make.pool(manager, status="draft")
    commitment_id, investor = make.commitment(pool_id, amount="50000")
    accepted_id, other_investor = make.commitment(pool_id, amount="60000", accept_as=manager)
    return World(
        manager,
        other_manager,
        investor,
        other_investor,
        make.user("analyst"),
        make.user("admin"),
        pool_id,
        draft_id,
        commitment_id,
        accepted_id,
    )


# --- investors -------------------------------------------------------------------------------------


def test_an_investor_reads_only_their_own_commitment(uow_factory: Any, world: World) -> None:
    error = denied(uow_factory, commitments.get_commitment, world.other_investor, world.commitment_id)
    assert error.message == "you may not see this investor's position"
    with uow_factory() as uow:
        mine = commitments.get_commitment(world.investor, uow, world.commitment_id)
    assert mine.investor_id == world.investor.user_id and mine.amount_requested == D("50000")


def test_who_else_may_read_a_commitment(uow_factory: Any, world: World) -> None:
    for reader in (world.manager, world.analyst, world.admin):
        with uow_factory() as uow:
            assert commitments.get_commitment(reader, uow, world.commitment_id).id == world.commitment_id
    denied(uow_factory, commitments.get_commitment, world.other_manager, world.commitment_id)


def test_an_investor_lists_only_their_own_commitments(uow_factory: Any, world: World) -> None:
    with uow_factory() as uow:
        mine = commitments.list_commitments(world.investor, uow, pool_id=world.pool_id)
        everything = commitments.list_commitments(world.investor, uow)
    assert [c.id for c in mine] == [world.commitment_id]
    assert {c.investor_id for c in everything} == {world.investor.user_id}
    with uow_factory() as uow:
        all_of_pool = commitments.list_commitments(world.manager, uow, pool_id=world.pool_id)
    assert {c.id for c in all_of_pool} == {world.commitment_id, world.accepted_id}


def test_a_manager_lists_only_their_own_pools_commitments(uow_factory: Any, world: World) -> None:
    denied(uow_factory, commitments.list_commitments, world.other_manager, pool_id=world.pool_id)
    with uow_factory() as uow, pytest.raises(ValidationError) as caught:
        commitments.list_commitments(world.manager, uow)
    assert caught.value.field == "pool_id"


def test_an_investor_cannot_withdraw_someone_elses_commitment(uow_factory: Any, world: World) -> None:
    error = denied(
        uow_factory,
        commitments.withdraw_commitment,
        world.other_investor,
        world.commitment_id,
        action="commitment.withdraw",
    )
    assert error.message == "an investor may only act for themselves"
    for actor in (world.manager, world.analyst, world.admin):
        denied(
            uow_factory,
            commitments.withdraw_commitment,
            actor,
            world.commitment_id,
            action="commitment.withdraw",
        )
    with uow_factory() as uow:
        commitments.withdraw_commitment(world.investor, uow, world.commitment_id)


def test_an_investor_cannot_see_a_draft_pool(uow_factory: Any, world: World) -> None:
    error = denied(uow_factory, pools.get_pool, world.investor, world.draft_id)
    assert error.message == "you may not see this pool"
    denied(uow_factory, pools.fundraising, world.investor, world.draft_id)
    denied(uow_factory, pools.pool_version, world.investor, world.draft_id)
    with uow_factory() as uow:
        visible = {p.id for p in pools.list_pools(world.investor, uow)}
        assert pools.get_pool(world.investor, uow, world.pool_id).status == "open"
    assert world.pool_id in visible and world.draft_id not in visible


def test_an_investor_sees_a_closed_pool_only_if_they_committed(
    uow_factory: Any, world: World, make: Any
) -> None:
    stranger = make.user("investor")
    with uow_factory() as uow:
        pools.close_pool(world.manager, uow, world.pool_id)
    denied(uow_factory, pools.get_pool, stranger, world.pool_id)
    with uow_factory() as uow:
        assert pools.get_pool(world.investor, uow, world.pool_id).status == "closed"
        assert world.pool_id not in {p.id for p in pools.list_pools(stranger, uow)}
        assert world.pool_id in {p.id for p in pools.list_pools(world.investor, uow)}


def test_investors_cannot_manage_pools_or_move_money(uow_factory: Any, world: World, make: Any) -> None:
    investor = world.investor
    denied(uow_factory, pools.create_pool, investor, make.terms(), action="pool.create")
    denied(uow_factory, pools.open_pool, investor, world.draft_id, action="pool.open")
    denied(uow_factory, pools.close_pool, investor, world.pool_id, action="pool.close")
    denied(
        uow_factory, commitments.accept_commitment, investor, world.commitment_id, action="commitment.accept"
    )
    args, kwargs = investment(world.pool_id)
    denied(uow_factory, operations.submit, investor, *args, action="operation.submit", **kwargs)
    denied(
        uow_factory,
        users.set_kyc_status,
        investor,
        investor.user_id,
        "approved",
        "qualified_purchaser",
        action="user.set_kyc",
    )


# --- managers --------------------------------------------------------------------------------------


def test_a_manager_cannot_touch_another_managers_pool(uow_factory: Any, world: World, make: Any) -> None:
    intruder = world.other_manager
    expected = "only the pool's manager may do this"
    assert (
        denied(
            uow_factory,
            commitments.accept_commitment,
            intruder,
            world.commitment_id,
            action="commitment.accept",
        ).message
        == expected
    )
    denied(
        uow_factory,
        commitments.accept_commitment,
        intruder,
        world.commitment_id,
        "20000",
        action="commitment.accept",
    )
    denied(
        uow_factory, commitments.reject_commitment, intruder, world.commitment_id, action="commitment.reject"
    )
    denied(uow_factory, pools.open_pool, intruder, world.draft_id, action="pool.open")
    denied(uow_factory, pools.close_pool, intruder, world.pool_id, action="pool.close")
    denied(
        uow_factory,
        pools.update_pool_terms,
        intruder,
        world.draft_id,
        make.terms(name="Hijacked"),
        action="pool.update_terms",
    )
    args, kwargs = investment(world.pool_id)
    denied(uow_factory, operations.submit, intruder, *args, action="operation.submit", **kwargs)
    denied(
        uow_factory,
        operations.submit,
        intruder,
        world.pool_id,
        "reversal",
        {"operation_id": str(uuid.uuid4()), "reason": "oops"},
        action="operation.submit",
    )
    denied(uow_factory, pools.get_pool, intruder, world.pool_id)
    denied(uow_factory, pools.fundraising, intruder, world.draft_id)
    with uow_factory() as uow:
        assert world.pool_id not in {p.id for p in pools.list_pools(intruder, uow)}

    # The rightful manager does each of these.
    with uow_factory() as uow:
        pools.update_pool_terms(world.manager, uow, world.draft_id, make.terms(name="Renamed by owner"))
    with uow_factory() as uow:
        pools.open_pool(world.manager, uow, world.draft_id)
    with uow_factory() as uow:
        assert commitments.accept_commitment(world.manager, uow, world.commitment_id, "20000") == D("20000")
    with uow_factory() as uow:
        pools.close_pool(world.manager, uow, world.pool_id)


def test_a_manager_cannot_commit_or_administer(uow_factory: Any, world: World) -> None:
    denied(
        uow_factory,
        commitments.submit_commitment,
        world.manager,
        world.pool_id,
        "50000",
        action="commitment.submit",
    )
    denied(uow_factory, users.set_role, world.manager, world.manager.user_id, "admin", action="user.set_role")
    denied(uow_factory, users.unlock_user, world.manager, world.investor.user_id, action="user.unlock")
    denied(uow_factory, users.list_users, world.manager)


# --- analysts: read everything, write nothing ---------------------------------------------------------


def test_an_analyst_reads_every_pool(uow_factory: Any, world: World) -> None:
    with uow_factory() as uow:
        assert pools.get_pool(world.analyst, uow, world.draft_id).status == "draft"
        ids = {p.id for p in pools.list_pools(world.analyst, uow)}
        summary = pools.fundraising(world.analyst, uow, world.pool_id)
        listed = commitments.list_commitments(world.analyst, uow, pool_id=world.pool_id)
    assert {world.pool_id, world.draft_id} <= ids
    assert summary.accepted == D("60000")
    assert len(listed) == 2


def test_an_analyst_writes_nothing(uow_factory: Any, world: World, make: Any) -> None:
    analyst = world.analyst
    writes: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
        ("pool.create", pools.create_pool, (make.terms(),), {}),
        ("pool.update_terms", pools.update_pool_terms, (world.draft_id, make.terms()), {}),
        ("pool.open", pools.open_pool, (world.draft_id,), {}),
        ("pool.close", pools.close_pool, (world.pool_id,), {}),
        ("commitment.submit", commitments.submit_commitment, (world.pool_id, "50000"), {}),
        ("commitment.accept", commitments.accept_commitment, (world.commitment_id,), {}),
        ("commitment.reject", commitments.reject_commitment, (world.commitment_id,), {}),
        ("commitment.withdraw", commitments.withdraw_commitment, (world.commitment_id,), {}),
        ("operation.submit", operations.submit, investment(world.pool_id)[0], investment(world.pool_id)[1]),
        (
            "user.create",
            users.create_user,
            (f"x{secrets.token_hex(4)}",),
            {"name": "X", "email": "x@example.com", "role": "admin", "password": "long-enough-pw"},
        ),
        ("user.set_role", users.set_role, (analyst.user_id, "admin"), {}),
        ("user.set_kyc", users.set_kyc_status, (world.investor.user_id, "rejected"), {}),
        ("user.set_active", users.set_active, (world.investor.user_id, False), {}),
        ("user.unlock", users.unlock_user, (world.investor.user_id,), {}),
    ]
    for action, service, args, kwargs in writes:
        denied(uow_factory, service, analyst, *args, action=action, **kwargs)
    denied(uow_factory, users.list_users, analyst)


# --- admins: run the platform, never a pool's money ----------------------------------------------------


def test_an_admin_cannot_move_pool_money_or_run_pools(uow_factory: Any, world: World, make: Any) -> None:
    admin = world.admin
    args, kwargs = investment(world.pool_id)
    error = denied(uow_factory, operations.submit, admin, *args, action="operation.submit", **kwargs)
    assert error.message == "only the pool's manager may do this"
    denied(uow_factory, commitments.accept_commitment, admin, world.commitment_id, action="commitment.accept")
    denied(uow_factory, commitments.reject_commitment, admin, world.commitment_id, action="commitment.reject")
    denied(uow_factory, pools.open_pool, admin, world.draft_id, action="pool.open")
    denied(uow_factory, pools.close_pool, admin, world.pool_id, action="pool.close")
    denied(uow_factory, pools.create_pool, admin, make.terms(), action="pool.create")
    denied(
        uow_factory, commitments.submit_commitment, admin, world.pool_id, "50000", action="commitment.submit"
    )
    # ...while user administration is theirs.
    with uow_factory() as uow:
        users.set_kyc_status(admin, uow, world.investor.user_id, "approved", "qualified_purchaser")
    with uow_factory() as uow:
        assert world.investor.username in {
            u.username for u in users.list_users(admin, uow, world.investor.username)
        }
