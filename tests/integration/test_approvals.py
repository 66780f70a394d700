"""Approval by a second person (issue 17): a distribution, and a capital call above the pool's
threshold, is drafted by one manager of the pool and approved by another or an admin, who sees the
same preview; posting uses exactly the approved request and is refused if the pool moved since.

Against the real services, PostgreSQL and the operation engine (processed in-process, as a worker
does); the posted amounts are read straight from the journal entries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from core import clock, operations
from core.errors import Conflict, InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.permissions import Actor
from core.services import approvals, calls, distributions, payments, pools
from db.models import Approval, AuditLog, CallItem, CapitalCall, Operation
from tests.workers import table_state

D = Decimal
TODAY = date.today()
START = TODAY - timedelta(days=200)


def process(uow_factory: Callable[[], Any], status: Any) -> str:
    return operations.process(str(status.id), uow_factory)


class Pool:
    """A closed pool (three investors: 100k, 200k, 300k), 50% called and paid; a lead manager and
    a co-manager."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.uow = make.uow_factory
        with clock.travel(START):
            self.id, self.lead = make.pool(hard_cap="2000000")
            self.investors = [
                make.commitment(self.id, amount=a, accept_as=self.lead)[1]
                for a in ("100000", "200000", "300000")
            ]
            with self.uow() as uow:
                pools.close_pool(self.lead, uow, self.id)
        self.co = make.user("fund_manager")
        with self.uow() as uow:
            pools.add_manager(self.lead, uow, self.id, self.co.user_id)
        on = START + timedelta(days=10)
        with clock.travel(on), self.uow() as uow:
            status = calls.issue(
                self.lead,
                uow,
                calls.preview(self.lead, uow, self.id, {"percent": "50", "purpose": "first"}).command,
            )
        assert process(self.uow, status) == "done"
        for item in self.items():
            self.pay(item, START + timedelta(days=15))

    def items(self, number: int = 1) -> list[Any]:
        with self.uow() as uow:
            return list(
                uow.session.execute(
                    select(CallItem.__table__)
                    .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                    .where(CapitalCall.pool_id == self.id, CapitalCall.number == number)
                    .order_by(CallItem.id)
                ).all()
            )

    def pay(self, item: Any, on: date, amount: str | None = None) -> None:
        request = {
            "call_item_id": item.id,
            "amount": amount or str(item.amount_due - item.amount_paid),
            "reference": f"W-{item.id}-{on}-{amount}",
            "paid_on": on.isoformat(),
        }
        with clock.travel(on), self.uow() as uow:
            status = payments.record(
                self.lead, uow, payments.preview(self.lead, uow, self.id, request).command
            )
        assert process(self.uow, status) == "done"

    def draft(self, drafter: Actor | None = None, proceeds: str = "150000", memo: str = "Acme sale") -> int:
        with self.uow() as uow:
            return approvals.draft(
                drafter or self.lead, uow, self.id, "distribution", {"proceeds": proceeds, "memo": memo}
            )

    def approval(self, approval_id: int) -> Any:
        with self.uow() as uow:
            return uow.session.execute(select(Approval.__table__).where(Approval.id == approval_id)).one()

    def entries(self, kind: str) -> dict[int, D]:
        """Each investor's amount debited to capital by journals of this kind, from the entries."""
        with self.uow() as uow:
            rows = uow.session.execute(
                text(
                    """SELECT e.investor_id, sum(e.amount) FROM entries e JOIN journals j ON j.id = e.journal_id
                        WHERE e.pool_id = :pool AND j.kind = :kind AND e.account = 'capital' AND e.side = 'D'
                        GROUP BY e.investor_id"""
                ),
                {"pool": self.id, "kind": kind},
            ).all()
        return {investor: amount for investor, amount in rows}

    def audit(self, action: str, outcome: str = "ok") -> list[Any]:
        with self.uow() as uow:
            return list(
                uow.session.execute(
                    select(AuditLog.__table__)
                    .where(AuditLog.action == action, AuditLog.outcome == outcome)
                    .order_by(AuditLog.id)
                ).all()
            )


@pytest.fixture
def pool(make: Any) -> Pool:
    return Pool(make)


def test_the_drafter_cannot_approve_and_nothing_is_posted(pool: Pool) -> None:
    draft = pool.draft()
    before = table_state(pool.uow)
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="you drafted this distribution"):
        approvals.approve(pool.lead, uow, draft)
    assert table_state(pool.uow) == before
    assert pool.approval(draft).status == "drafted"
    # The co-manager may draft too, and then the lead manager approves, not the co-manager.
    second = pool.draft(pool.co, proceeds="1000")
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="you drafted"):
        approvals.approve(pool.co, uow, second)
    (refused,) = [a for a in pool.audit("approval.approve", "refused") if a.object_id == str(second)]
    assert "you drafted" in (refused.reason or "")


def test_the_posted_journals_equal_the_approved_preview_to_the_cent(pool: Pool) -> None:
    with pool.uow() as uow:
        shown = distributions.preview(pool.lead, uow, pool.id, {"proceeds": "100000.01", "memo": "Acme sale"})
    draft = pool.draft(proceeds="100000.01")
    with pool.uow() as uow:
        (waiting,) = approvals.approvals(pool.co, uow, pool.id, "distribution").waiting
    # The approver sees exactly the preview the drafter saw.
    assert waiting.preview.lines == shown.lines and waiting.preview.tiers == shown.tiers
    assert waiting.preview.command == shown.command and waiting.may_decide and not waiting.mine
    assert waiting.changes == []
    with pool.uow() as uow:
        status = approvals.approve(pool.co, uow, draft)
    assert process(pool.uow, status) == "done"
    approved = pool.approval(draft)
    assert (approved.status, approved.decided_by, approved.operation_id) == (
        "approved",
        pool.co.user_id,
        status.id,
    )
    lp, gp = pool.entries("distribution"), pool.entries("carry")
    assert lp == {line.investor_id: line.lp for line in shown.lines if line.lp > 0}
    assert {i: a for i, a in gp.items()} == {line.investor_id: line.gp for line in shown.lines if line.gp > 0}
    assert sum(lp.values(), D(0)) + sum(gp.values(), D(0)) == D("100000.01")
    with pool.uow() as uow:
        op = uow.session.get(Operation, status.id)
        assert op is not None and op.actor_id == pool.co.user_id
        assert {
            k: v for k, v in op.payload.items() if k not in ("approval_id", "upto_journal")
        } == approved.request


def test_a_stale_approval_is_refused_naming_what_changed(pool: Pool) -> None:
    draft = pool.draft()
    # A second call is issued and paid in part after the draft: journals posted, the version moved.
    with clock.travel(TODAY), pool.uow() as uow:
        status = calls.issue(
            pool.lead,
            uow,
            calls.preview(pool.lead, uow, pool.id, {"percent": "10", "purpose": "more"}).command,
        )
    assert process(pool.uow, status) == "done"
    pool.pay(pool.items(2)[0], TODAY, "1000")
    with pool.uow() as uow:
        (waiting,) = approvals.approvals(pool.co, uow, pool.id, "distribution").waiting
    assert waiting.changes and "journals posted since" in waiting.changes[0]
    before = table_state(pool.uow)
    with pool.uow() as uow, pytest.raises(Stale) as refused:
        approvals.approve(pool.co, uow, draft)
    message = refused.value.message
    assert "changed since this distribution was drafted" in message
    assert "capital call" in message and "payment" in message and "version moved from" in message
    assert "Nothing was posted" in message
    assert table_state(pool.uow) == before and pool.entries("distribution") == {}
    assert pool.approval(draft).status == "drafted"
    # A change of version alone (the threshold set) is refused too.
    fresh = pool.draft()
    with pool.uow() as uow:
        pools.set_call_approval_threshold(pool.lead, uow, pool.id, "500000")
    with pool.uow() as uow, pytest.raises(Stale, match=r"version moved from \d+ to \d+"):
        approvals.approve(pool.co, uow, fresh)


def test_another_managers_pool_an_investor_and_an_analyst_cannot_approve_an_admin_can(pool: Pool) -> None:
    draft = pool.draft()
    _, other_manager = pool.make.pool()
    analyst = pool.make.user("analyst")
    before = table_state(pool.uow)
    for intruder in (other_manager, pool.investors[0], analyst):
        with pool.uow() as uow, pytest.raises(PermissionDenied):
            approvals.approve(intruder, uow, draft)
        with pool.uow() as uow, pytest.raises(PermissionDenied):
            approvals.reject(intruder, uow, draft, "no")
        with pool.uow() as uow, pytest.raises(PermissionDenied):
            approvals.approvals(intruder, uow, pool.id, "distribution")
    assert table_state(pool.uow) == before
    assert len([a for a in pool.audit("approval.approve", "refused") if a.object_id == str(draft)]) == 3
    admin = pool.make.user("admin")
    with pool.uow() as uow:
        status = approvals.approve(admin, uow, draft)
    assert process(pool.uow, status) == "done"
    assert sum(pool.entries("distribution").values(), D(0)) + sum(pool.entries("carry").values(), D(0)) == D(
        "150000"
    )


def test_posting_without_approval_or_with_a_changed_request_is_refused(pool: Pool) -> None:
    with pool.uow() as uow:
        command = distributions.preview(pool.lead, uow, pool.id, {"proceeds": "1000", "memo": "x"}).command
    with pool.uow() as uow, pytest.raises(InvalidState, match="needs a second manager's approval"):
        operations.submit(pool.lead, uow, pool.id, "distribution", command.payload())
    draft = pool.draft(proceeds="1000")
    # Someone names the draft but asks for more: refused, as is posting it before it is approved.
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="not the one that was approved"):
        operations.submit(pool.co, uow, pool.id, "distribution", {**command.payload(), "approval_id": draft})
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="not the one that was approved"):
        operations.submit(
            pool.co,
            uow,
            pool.id,
            "distribution",
            {**command.payload(), "proceeds": "9000", "approval_id": draft},
        )
    assert pool.entries("distribution") == {}


def test_concurrent_approvals_post_once_and_the_other_is_told(pool: Pool) -> None:
    draft = pool.draft()
    admin = pool.make.user("admin")
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def approve(actor: Actor) -> None:
        barrier.wait()
        try:
            with pool.uow() as uow:
                outcomes.append(approvals.approve(actor, uow, draft))
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=approve, args=(actor,)) for actor in (pool.co, admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = [o for o in outcomes if not isinstance(o, Conflict)]
    told = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(posted) == 1 and len(told) == 1
    assert "already approved by" in told[0].message
    assert process(pool.uow, posted[0]) == "done"
    with pool.uow() as uow:
        ops = uow.session.execute(
            select(Operation).where(Operation.pool_id == pool.id, Operation.kind == "distribution")
        ).all()
    assert len(ops) == 1
    assert sum(pool.entries("distribution").values(), D(0)) + sum(pool.entries("carry").values(), D(0)) == D(
        "150000"
    )


def test_reject_and_withdraw_with_a_reason_then_nothing_more(pool: Pool) -> None:
    draft = pool.draft()
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="withdraw it instead"):
        approvals.reject(pool.lead, uow, draft, "changed my mind")
    with pool.uow() as uow, pytest.raises(ValidationError, match="Reason"):
        approvals.reject(pool.co, uow, draft, "  ")
    with pool.uow() as uow:
        approvals.reject(pool.co, uow, draft, "Wrong memo")
    rejected = pool.approval(draft)
    assert (rejected.status, rejected.reason, rejected.decided_by) == (
        "rejected",
        "Wrong memo",
        pool.co.user_id,
    )
    with pool.uow() as uow, pytest.raises(Conflict, match="already rejected by"):
        approvals.approve(pool.make.user("admin"), uow, draft)
    second = pool.draft()
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="only the manager who drafted"):
        approvals.withdraw(pool.co, uow, second, "not mine")
    with pool.uow() as uow:
        approvals.withdraw(pool.lead, uow, second, "Proceeds not in yet")
    assert pool.approval(second).status == "withdrawn"
    with pool.uow() as uow:
        listed = approvals.approvals(pool.lead, uow, pool.id, "distribution")
    assert listed.waiting == []
    assert [(d.status, d.reason) for d in listed.decided] == [
        ("withdrawn", "Proceeds not in yet"),
        ("rejected", "Wrong memo"),
    ]
    with pool.uow() as uow, pytest.raises(NotFound):
        approvals.approve(pool.co, uow, 10**9)
    assert pool.entries("distribution") == {}


def test_every_step_is_audited(pool: Pool) -> None:
    approved = pool.draft(proceeds="1000")
    rejected = pool.draft(proceeds="2000")
    withdrawn = pool.draft(proceeds="3000")
    with pool.uow() as uow:
        status = approvals.approve(pool.co, uow, approved)
    process(pool.uow, status)
    with pool.uow() as uow:
        approvals.reject(pool.co, uow, rejected, "Too early")
    with pool.uow() as uow:
        approvals.withdraw(pool.lead, uow, withdrawn, "Duplicate")
    drafts = {a.object_id: a for a in pool.audit("approval.draft")}
    for draft in (approved, rejected, withdrawn):
        assert drafts[str(draft)].actor_id == pool.lead.user_id
    assert drafts[str(approved)].after is not None and drafts[str(approved)].after["proceeds"] == "1000.00"
    (approve,) = [a for a in pool.audit("approval.approve") if a.object_id == str(approved)]
    assert (approve.object_id, approve.actor_id, approve.after["status"]) == (
        str(approved),
        pool.co.user_id,
        "approved",
    )
    (reject,) = [a for a in pool.audit("approval.reject") if a.object_id == str(rejected)]
    assert (reject.object_id, reject.after["reason"]) == (str(rejected), "Too early")
    (withdraw,) = [a for a in pool.audit("approval.withdraw") if a.object_id == str(withdrawn)]
    assert (withdraw.object_id, withdraw.actor_id) == (str(withdrawn), pool.lead.user_id)
    assert any(
        a.after and a.after.get("approval_id") == approved for a in pool.audit("operation.distribution")
    )


def test_calls_below_the_threshold_post_directly_above_it_need_approval(pool: Pool) -> None:
    with pool.uow() as uow:
        pools.set_call_approval_threshold(pool.lead, uow, pool.id, "50000")
    small = {"amount": "50000", "purpose": "small"}
    big = {"amount": "50000.01", "purpose": "big"}
    with clock.travel(TODAY), pool.uow() as uow:
        preview = calls.preview(pool.co, uow, pool.id, small)
        assert not preview.needs_approval
        status = calls.issue(pool.co, uow, preview.command)
    assert process(pool.uow, status) == "done"
    with clock.travel(TODAY), pool.uow() as uow:
        preview = calls.preview(pool.co, uow, pool.id, big)
    assert preview.needs_approval
    with clock.travel(TODAY), pool.uow() as uow, pytest.raises(InvalidState, match="needs a second manager"):
        calls.issue(pool.co, uow, preview.command)
    with clock.travel(TODAY), pool.uow() as uow, pytest.raises(InvalidState, match="needs no approval"):
        approvals.draft(pool.co, uow, pool.id, "capital_call", small)
    with clock.travel(TODAY), pool.uow() as uow:
        draft = approvals.draft(pool.co, uow, pool.id, "capital_call", big)
    with pool.uow() as uow, pytest.raises(PermissionDenied, match="you drafted this capital call"):
        approvals.approve(pool.co, uow, draft)
    with clock.travel(TODAY), pool.uow() as uow:
        status = approvals.approve(pool.lead, uow, draft)
    assert process(pool.uow, status) == "done"
    parts = {item.investor_id: item.amount_due for item in pool.items(3)}
    assert parts == {line.investor_id: line.amount for line in preview.lines}
    assert sum(parts.values(), D(0)) == D("50000.01")
    # Without a threshold no call needs approval.
    with pool.uow() as uow:
        pools.set_call_approval_threshold(pool.lead, uow, pool.id, "")
    with clock.travel(TODAY), pool.uow() as uow:
        assert not calls.preview(pool.co, uow, pool.id, big).needs_approval


def test_co_managers_work_the_pool_and_only_the_lead_or_an_admin_changes_them(pool: Pool) -> None:
    # The co-manager works the pool like its lead manager: previews, the pool in their list.
    with pool.uow() as uow:
        distributions.preview(pool.co, uow, pool.id, {"proceeds": "1000"})
        assert pool.id in {p.id for p in pools.list_pools(pool.co, uow)}
        managers = pools.pool_managers(pool.co, uow, pool.id)
    assert [(m.user_id, m.lead) for m in managers.managers] == [
        (pool.lead.user_id, True),
        (pool.co.user_id, False),
    ]
    assert not managers.may_change
    third = pool.make.user("fund_manager")
    for who in (pool.co, third, pool.investors[0]):
        with pool.uow() as uow, pytest.raises(PermissionDenied):
            pools.add_manager(who, uow, pool.id, third.user_id)
        with pool.uow() as uow, pytest.raises(PermissionDenied):
            pools.set_call_approval_threshold(who, uow, pool.id, "1")
    with pool.uow() as uow, pytest.raises(ValidationError, match="active fund manager"):
        pools.add_manager(pool.lead, uow, pool.id, pool.investors[0].user_id)
    with pool.uow() as uow, pytest.raises(InvalidState, match="already manages"):
        pools.add_manager(pool.lead, uow, pool.id, pool.co.user_id)
    with pool.uow() as uow, pytest.raises(InvalidState, match="lead manager cannot be removed"):
        pools.remove_manager(pool.make.user("admin"), uow, pool.id, pool.lead.user_id)
    with pool.uow() as uow:
        pools.add_manager(pool.make.user("admin"), uow, pool.id, third.user_id)
    with pool.uow() as uow:
        distributions.preview(third, uow, pool.id, {"proceeds": "1000"})
    with pool.uow() as uow:
        pools.remove_manager(pool.lead, uow, pool.id, third.user_id)
    with pool.uow() as uow, pytest.raises(PermissionDenied):
        distributions.preview(third, uow, pool.id, {"proceeds": "1000"})
    assert [a.after for a in pool.audit("pool.add_manager")][-1] == {
        "user_id": third.user_id,
        "username": third.username,
    }
    assert pool.audit("pool.remove_manager")[-1].before == {"user_id": third.user_id}
