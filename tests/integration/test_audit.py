"""The audit log: every write made through a service leaves who, what, when, before and after; every
refused write leaves who tried what and why; and admins read it back with filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select, text

from core import operations
from core.errors import DomainError, PermissionDenied
from core.permissions import Actor
from core.services import commitments, exports, health, pools, users
from core.services.audit import fields_json, fields_text, list_audit
from db.models import AuditLog

D = Decimal
TODAY = date.today()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def newest(uow_factory: Any, actor: Actor) -> dict[str, Any]:
    with uow_factory() as uow:
        row = uow.session.execute(
            select(AuditLog).where(AuditLog.actor_id == actor.user_id).order_by(AuditLog.id.desc()).limit(1)
        ).scalar_one()
        return {
            c: getattr(row, c)
            for c in ("at", "action", "object_type", "object_id", "before", "after", "outcome", "reason")
        }


def recorded(
    uow_factory: Any, actor: Actor, service: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[Any, dict]:
    """Run a write and return its result and the one audit row it added."""
    with uow_factory() as uow:
        mark = uow.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    with uow_factory() as uow:
        result = service(actor, uow, *args, **kwargs)
    with uow_factory() as uow:
        added = (
            uow.session.execute(
                select(AuditLog.id).where(AuditLog.id > mark, AuditLog.actor_id == actor.user_id)
            )
            .scalars()
            .all()
        )
    assert len(added) >= 1, f"{service.__name__} wrote no audit row"
    row = newest(uow_factory, actor)
    assert row["outcome"] == "ok" and row["reason"] is None
    assert abs(row["at"] - datetime.now(UTC)) < timedelta(minutes=1)
    return result, row


def refused(
    uow_factory: Any, actor: Actor, service: Callable[..., Any], *args: Any, action: str, **kwargs: Any
) -> dict[str, Any]:
    """Run a write that must be refused and return the refusal it recorded."""
    with uow_factory() as uow, pytest.raises(DomainError) as caught:
        service(actor, uow, *args, **kwargs)
    row = newest(uow_factory, actor)
    assert (row["action"], row["outcome"], row["reason"]) == (action, "refused", caught.value.message)
    assert row["before"] is None and row["after"] is None, "nothing was changed, so nothing before or after"
    return row


def test_every_service_write_is_recorded_with_before_and_after(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    manager = make.user("fund_manager")

    (user_id, temporary), row = recorded(
        uow_factory,
        admin,
        users.create_user,
        f"aud{make.user('investor').user_id}",
        name="Audited Person",
        email="aud@example.com",
        role="investor",
    )
    assert temporary and (row["action"], row["object_type"], row["object_id"]) == (
        "user.create",
        "user",
        str(user_id),
    )
    assert row["after"]["role"] == "investor" and temporary not in str(row["after"]), "no password in the log"
    person = Actor(user_id, "investor", row["after"]["username"])

    _, row = recorded(uow_factory, admin, users.set_role, user_id, "analyst")
    assert (row["action"], row["before"], row["after"]) == (
        "user.set_role",
        {"role": "investor"},
        {"role": "analyst"},
    )
    _, row = recorded(uow_factory, admin, users.set_role, user_id, "investor")
    _, row = recorded(uow_factory, admin, users.set_kyc_status, user_id, "approved", "accredited")
    assert row["action"] == "user.set_kyc"
    assert row["before"] == {"kyc_status": "pending", "accreditation": "none"}
    assert row["after"] == {"kyc_status": "approved", "accreditation": "accredited"}
    with uow_factory() as uow:
        uow.session.execute(
            text("UPDATE users SET locked_until = now() + interval '1 hour' WHERE id = :u"), {"u": user_id}
        )
        uow.commit()
    _, row = recorded(uow_factory, admin, users.unlock_user, user_id)
    assert (
        row["action"] == "user.unlock"
        and row["before"]["locked_until"]
        and row["after"] == {"locked_until": None}
    )
    _, row = recorded(uow_factory, admin, users.set_active, user_id, False)
    assert (row["before"], row["after"]) == ({"active": True}, {"active": False})
    recorded(uow_factory, admin, users.set_active, user_id, True)

    pool_id, row = recorded(uow_factory, manager, pools.create_pool, make.terms(name="Audited Fund"))
    assert (row["action"], row["object_id"], row["after"]["name"]) == (
        "pool.create",
        str(pool_id),
        "Audited Fund",
    )
    _, row = recorded(
        uow_factory, manager, pools.update_pool_terms, pool_id, make.terms(name="Audited Fund II")
    )
    assert (row["before"]["name"], row["after"]["name"]) == ("Audited Fund", "Audited Fund II")
    _, row = recorded(uow_factory, manager, pools.open_pool, pool_id)
    assert (row["action"], row["before"], row["after"]) == (
        "pool.open",
        {"status": "draft"},
        {"status": "open"},
    )

    commitment_id, row = recorded(uow_factory, person, commitments.submit_commitment, pool_id, "150000")
    assert (row["action"], row["object_id"], row["after"]) == (
        "commitment.submit",
        str(commitment_id),
        {"amount": "150000.00"},
    )
    _, row = recorded(uow_factory, manager, commitments.accept_commitment, commitment_id, "120000")
    assert row["action"] == "commitment.accept" and row["after"]["amount_accepted"] == "120000.00"
    second, investor2 = make.commitment(pool_id)
    _, row = recorded(uow_factory, manager, commitments.reject_commitment, second)
    assert (row["before"], row["after"]) == ({"status": "pending"}, {"status": "rejected"})
    third, _ = make.commitment(pool_id, investor2)
    _, row = recorded(uow_factory, investor2, commitments.withdraw_commitment, third)
    assert (row["action"], row["after"]) == ("commitment.withdraw", {"status": "withdrawn"})

    _, row = recorded(uow_factory, manager, pools.close_pool, pool_id)
    assert row["after"] == {"status": "closed"}
    status, row = recorded(
        uow_factory,
        manager,
        operations.submit,
        pool_id,
        "capital_call",
        {"percent": "10", "purpose": "audited call", "due_date": str(TODAY + timedelta(days=9))},
    )
    assert (row["action"], row["object_id"]) == ("operation.capital_call", str(status.id))
    assert row["after"]["pool_id"] == pool_id and row["after"]["purpose"] == "audited call"

    started, row = recorded(uow_factory, admin, exports.start_export, "commitments", enqueue=False)
    assert (row["action"], row["object_type"], row["object_id"]) == (
        "export.download",
        "export",
        "commitments",
    )
    assert row["after"]["rows"] == started.rows
    started, row = recorded(
        uow_factory, admin, exports.start_export, "audit_log", TODAY, inline_limit=0, enqueue=False
    )
    assert (row["action"], row["object_id"]) == ("operation.export", str(started.operation_id))


def test_every_refused_write_records_the_refusal(make: Any, uow_factory: Any) -> None:
    admin, analyst = make.user("admin"), make.user("analyst")
    manager, stranger = make.user("fund_manager"), make.user("fund_manager")
    investor = make.user("investor")
    pool_id, _ = make.pool(manager)
    commitment_id, _ = make.commitment(pool_id, investor)
    draft_id, _ = make.pool(manager, status="draft")
    target = make.user("investor")

    # An analyst is read-only: every write is refused, and each refusal is on record.
    for service, args, kwargs, action in (
        (
            users.create_user,
            ("someone",),
            {"name": "X", "email": "x@example.com", "role": "admin"},
            "user.create",
        ),
        (users.set_role, (target.user_id, "admin"), {}, "user.set_role"),
        (users.set_kyc_status, (target.user_id, "approved"), {}, "user.set_kyc"),
        (users.unlock_user, (target.user_id,), {}, "user.unlock"),
        (users.set_active, (target.user_id, False), {}, "user.set_active"),
        (pools.create_pool, (make.terms(),), {}, "pool.create"),
        (pools.update_pool_terms, (draft_id, make.terms()), {}, "pool.update_terms"),
        (pools.open_pool, (draft_id,), {}, "pool.open"),
        (pools.close_pool, (pool_id,), {}, "pool.close"),
        (commitments.submit_commitment, (pool_id, "50000"), {}, "commitment.submit"),
        (commitments.accept_commitment, (commitment_id,), {}, "commitment.accept"),
        (commitments.reject_commitment, (commitment_id,), {}, "commitment.reject"),
        (commitments.withdraw_commitment, (commitment_id,), {}, "commitment.withdraw"),
        (operations.submit, (pool_id, "capital_call", {"percent": "10"}), {}, "operation.submit"),
        (operations.retry, ("00000000-0000-0000-0000-000000000000",), {}, "operation.retry"),
        (exports.start_export, ("transactions",), {"enqueue": False}, "export.request"),
        (health.retry_operation, ("00000000-0000-0000-0000-000000000000",), {}, "operation.retry"),
    ):
        row = refused(uow_factory, analyst, service, *args, action=action, **kwargs)
        assert "may not" in row["reason"] or "only" in row["reason"] or "an investor" in row["reason"], row

    # Refusals for reasons other than the role are recorded too, with the reason.
    row = refused(uow_factory, stranger, pools.close_pool, pool_id, action="pool.close")
    assert row["object_id"] == str(pool_id) and row["reason"] == "only the pool's manager may do this"
    row = refused(
        uow_factory, investor, commitments.submit_commitment, pool_id, "1", action="commitment.submit"
    )
    assert row["object_id"] == str(pool_id)
    row = refused(
        uow_factory,
        admin,
        exports.start_export,
        "transactions",
        TODAY,
        TODAY - timedelta(days=1),
        enqueue=False,
        action="export.request",
    )
    assert row["reason"] == "Since must not be after the end of the range", "the field's label, not its code"

    # An admin reads refusals back, filtered.
    with uow_factory() as uow:
        mine = list_audit(admin, uow, who=analyst.username, outcome="refused", since=TODAY)
        users_only = list_audit(admin, uow, who=analyst.username, object_type="user", since=TODAY)
        one = list_audit(admin, uow, object_type="pool", object_id=str(pool_id), outcome="refused")
        system = list_audit(admin, uow, who="system", action="user.create", limit=5)
    assert len(mine) == 17 and all(e.actor == analyst.username and e.outcome == "refused" for e in mine)
    assert {e.action for e in users_only} == {
        "user.create",
        "user.set_role",
        "user.set_kyc",
        "user.unlock",
        "user.set_active",
    }
    assert {e.actor for e in one} >= {analyst.username, stranger.username, investor.username}
    assert system and all(e.actor is None for e in system)
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        list_audit(analyst, uow)


def test_an_admin_reads_each_entry_in_words(make: Any, uow_factory: Any) -> None:
    """The audit log as the page shows it: each object by its name, before and after as readable
    fields without internal ids, and as JSON for the CSV (issue 15)."""
    admin, manager = make.user("admin"), make.user("fund_manager")
    person = make.user("investor", kyc="pending", accreditation="none")
    with uow_factory() as uow:
        users.set_kyc_status(admin, uow, person.user_id, "approved", "accredited")
    pool_id, _ = make.pool(manager, name="Readable Fund")
    make.commitment(pool_id, accept_as=manager)
    with uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    with uow_factory() as uow:
        operation = operations.submit(
            manager, uow, pool_id, "capital_call", {"percent": "10", "purpose": "a call"}
        )
    with uow_factory() as uow:
        kyc = list_audit(admin, uow, object_type="user", object_id=str(person.user_id), action="user.set_kyc")
        created = list_audit(admin, uow, object_type="pool", object_id=str(pool_id), action="pool.create")
        submitted = list_audit(admin, uow, object_type="operation", object_id=str(operation.id))
    [entry] = kyc
    assert entry.what == f"User {person.username}"
    assert fields_text(entry.before) == "KYC status: pending · Accreditation: none"
    assert fields_text(entry.after) == "KYC status: approved · Accreditation: accredited"
    assert json.loads(fields_json(entry.after)) == {"kyc_status": "approved", "accreditation": "accredited"}
    assert created[0].what == "Pool Readable Fund"
    [call] = submitted
    assert call.what == "Capital call operation" and str(operation.id) not in call.what
    assert str(operation.id) not in fields_text(call.after), "no internal ids in the readable fields"
    assert fields_text(None) == fields_json(None) == ""
