"""Approval by a second person on the manager's pages (issue 17), as AppTests from Home.py.

The Distributions page submits a previewed waterfall for approval; a second manager of the pool
sees the same waterfall under "Waiting for approval" and approves (asked first) or rejects it with a
reason; the drafter sees it waiting and may withdraw it; a draft overtaken by a posting is flagged
and its approval refused. The Capital calls page does the same for a call above the pool's
threshold, which the pool form sets, beside the pool's managers. Postings are processed in-process,
as a worker would.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select

from core import operations
from core.services import pools, users
from db.models import Approval, CapitalCall
from tests.app.manager_support import (
    Fund,
    button,
    confirm,
    errors,
    goto,
    infos,
    journal_figures,
    logged_in,
    page_text,
    question,
    rerun_until,
    successes,
)

D = Decimal
FORM = "pages/manager_pool_form.py"
CALLS = "pages/manager_calls.py"
DISTRIBUTIONS = "pages/manager_distributions.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def funded(make: Any) -> tuple[Fund, Any]:
    """A fund with 300,000 paid in, and a co-manager."""
    fund = Fund(make, age=100)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    co = make.user("fund_manager")
    with make.uow_factory() as uow:
        pools.add_manager(fund.manager, uow, fund.pool_id, co.user_id)
    return fund, co


def waiting_ids(uow_factory: Any, pool_id: int, kind: str = "distribution") -> list[int]:
    with uow_factory() as uow:
        return list(
            uow.session.execute(
                select(Approval.id)
                .where(Approval.pool_id == pool_id, Approval.kind == kind, Approval.status == "drafted")
                .order_by(Approval.id)
            ).scalars()
        )


def draft_distribution(fund: Fund, proceeds: str = "1000", memo: str = "Interest") -> Any:
    """The manager previews a distribution and submits it for approval on the page."""
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    at.text_input(key="distribution-0-proceeds").input(proceeds)
    at.text_input(key="distribution-0-memo").input(memo)
    at = button(at, "Preview the waterfall").click().run()
    assert not errors(at), errors(at)
    confirm(at, "distribution-draft")
    assert any("Submitted for approval" in s for s in successes(at)), successes(at)
    return at


def test_a_second_manager_rejects_with_a_reason_and_the_drafter_withdraws(
    make: Any, uow_factory: Any
) -> None:
    fund, co = funded(make)
    mine = draft_distribution(fund)
    assert any("Waiting for a second manager" in i for i in infos(mine)), infos(mine)
    assert [b.label for b in mine.button if b.label in ("Approve", "Reject")] == []
    (draft,) = waiting_ids(uow_factory, fund.pool_id)

    other = goto(logged_in(co.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    assert f"drafted by Test {fund.manager.username}" in page_text(other)
    # A reason is needed: refused by its label, nothing decided.
    confirm(other, f"distribution-reject-{draft}")
    assert any(e.startswith("Reason") for e in errors(other)), errors(other)
    assert waiting_ids(uow_factory, fund.pool_id) == [draft]
    other.text_input(key=f"distribution-reject-reason-{draft}").input("Wrong memo").run()
    asked = confirm(other, f"distribution-reject-{draft}")
    assert "Nothing is posted" in asked
    assert any("Rejected Distribution of $1,000.00" in s for s in successes(other)), successes(other)
    assert "No distribution is waiting for approval." in page_text(other)
    decisions = other.dataframe[-1].value
    assert list(decisions["Outcome"]) == ["Rejected"] and list(decisions["Reason"]) == ["Wrong memo"]
    assert list(decisions["Decided by"]) == [f"Test {co.username}"]

    # The drafter takes back a second draft; the co-manager has no Withdraw for it.
    mine = draft_distribution(fund, "2000", "Second")
    (second,) = waiting_ids(uow_factory, fund.pool_id)
    mine.text_input(key=f"distribution-withdraw-reason-{second}").input("Proceeds not in yet").run()
    asked = confirm(mine, f"distribution-withdraw-{second}")
    assert asked.startswith("Withdraw Distribution of $2,000.00")
    assert waiting_ids(uow_factory, fund.pool_id) == []
    assert list(mine.dataframe[-1].value["Outcome"]) == ["Withdrawn", "Rejected"]
    assert journal_figures(uow_factory, fund.pool_id)["distributions"] == 0


def test_a_draft_overtaken_by_a_posting_is_flagged_and_its_approval_refused(
    make: Any, uow_factory: Any
) -> None:
    fund, co = funded(make)
    draft_distribution(fund)
    (draft,) = waiting_ids(uow_factory, fund.pool_id)
    fund.invest(fund.day(20), "Acme", "1000")  # a posting after the draft
    other = goto(logged_in(co.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    warned = [w.value for w in other.warning]
    assert any("The pool changed since this was drafted" in w and "investment 1" in w for w in warned), warned
    before = journal_figures(uow_factory, fund.pool_id)
    confirm(other, f"distribution-approve-{draft}")
    assert any(
        "changed since this distribution was drafted" in e and "Nothing was posted" in e
        for e in errors(other)
    )
    assert journal_figures(uow_factory, fund.pool_id) == before
    assert waiting_ids(uow_factory, fund.pool_id) == [draft]


def test_a_call_above_the_threshold_waits_for_a_second_manager(make: Any, uow_factory: Any) -> None:
    fund, co = funded(make)
    # The lead manager sets the threshold on the pool form; a mistake is refused under its label.
    at = goto(logged_in(fund.manager.username), FORM, edit_pool_id=fund.pool_id)
    scope = f"call-approval-{fund.pool_id}-"
    [field] = [t for t in at.text_input if t.key.startswith(scope)]
    field.input("lots")
    at = [b for b in at.button if b.label == "Save the approval threshold"][0].click().run()
    assert any("Capital calls need approval above" in e for e in errors(at)), errors(at)
    [field] = [t for t in at.text_input if t.key.startswith(scope)]
    field.input("100000")
    at = [b for b in at.button if b.label == "Save the approval threshold"][0].click().run()
    assert any("above $100,000.00" in s for s in successes(at)), successes(at)

    at = goto(logged_in(co.username), CALLS, manager_pool_id=fund.pool_id)
    form = "capital-call-0"
    at.radio(key=f"{form}-mode").set_value("An amount").run()
    at.text_input(key=f"{form}-value").input("150000")
    at.text_input(key=f"{form}-purpose").input("Series B")
    at = button(at, "Preview the call").click().run()
    assert not errors(at), errors(at)
    labels = [b.label for b in at.button]
    assert "Submit for approval" in labels and "Issue this call" not in labels
    asked = confirm(at, "capital-call-draft")
    assert "above the pool's approval threshold" in asked
    (draft,) = waiting_ids(uow_factory, fund.pool_id, "capital_call")
    assert any("Waiting for a second manager" in i for i in infos(at))
    with uow_factory() as uow:
        assert (
            uow.session.execute(
                select(CapitalCall.id).where(CapitalCall.number == 2, CapitalCall.pool_id == fund.pool_id)
            ).first()
            is None
        )

    lead = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    assert "Capital call 2 (Series B)" in page_text(lead) and "$150,000.00" in page_text(lead)
    confirm(lead, f"capital-call-approve-{draft}")
    with uow_factory() as uow:
        approval = uow.session.get(Approval, draft)
        assert approval is not None and approval.status == "approved" and approval.operation_id is not None
        operation_id = approval.operation_id
    assert operations.process(str(operation_id), uow_factory) == "done"
    lead = rerun_until(lead, lambda a: any("Approved and posted" in s for s in successes(a)), what="the call")
    assert journal_figures(uow_factory, fund.pool_id)["called"] == D("450000")
    # Below the threshold a call is issued directly, as before.
    lead.radio(key="capital-call-1-mode").set_value("An amount").run()
    lead.text_input(key="capital-call-1-value").input("100000")
    lead.text_input(key="capital-call-1-purpose").input("Small")
    lead = button(lead, "Preview the call").click().run()
    labels = [b.label for b in lead.button]
    assert "Issue this call" in labels and "Submit for approval" not in labels


def test_the_lead_manager_adds_a_co_manager_who_then_works_the_pool(make: Any, uow_factory: Any) -> None:
    fund = Fund(make, age=30)
    newcomer = make.user("fund_manager")
    other = goto(logged_in(newcomer.username), DISTRIBUTIONS)
    assert fund.pool_id not in {o for s in other.selectbox for o in s.options}  # not theirs yet

    at = goto(logged_in(fund.manager.username), FORM, edit_pool_id=fund.pool_id)
    managers = at.dataframe[0].value
    assert list(managers["Role"]) == ["Lead manager"]
    at.selectbox(key=f"co-manager-add-{fund.pool_id}").set_value(newcomer.user_id).run()
    asked = confirm(at, f"add-co-manager-{fund.pool_id}")
    assert asked.startswith(f"Make Test {newcomer.username} a co-manager of this pool?")
    assert any("is now a co-manager" in s for s in successes(at)), successes(at)
    assert list(at.dataframe[0].value["Role"]) == ["Lead manager", "Co-manager"]

    # The co-manager now works the pool; they see who manages it but change nothing of that.
    theirs = goto(logged_in(newcomer.username), FORM, edit_pool_id=fund.pool_id)
    assert "Only the lead manager or an admin changes who manages the pool" in page_text(theirs)
    assert not [s for s in theirs.selectbox if s.key == f"co-manager-add-{fund.pool_id}"]
    dist = goto(logged_in(newcomer.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    assert "Waiting for approval" in [h.value for h in dist.subheader]

    # The lead manager removes them again, asked first.
    at.selectbox(key=f"co-manager-remove-{fund.pool_id}").set_value(newcomer.user_id).run()
    asked = question(at, f"remove-co-manager-{fund.pool_id}")
    assert "no longer see or work it" in asked
    at.button(key=f"remove-co-manager-{fund.pool_id}-yes").click().run()
    assert list(at.dataframe[0].value["Role"]) == ["Lead manager"]


def test_an_admin_approves_where_a_pool_has_no_second_manager(make: Any, uow_factory: Any) -> None:
    fund = Fund(make, age=100)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    draft_distribution(fund, "3000", "Only manager")
    (draft,) = waiting_ids(uow_factory, fund.pool_id)
    admin = make.user("admin")
    at = goto(logged_in(admin.username), "pages/admin_approvals.py")
    text = page_text(at)
    assert "Distribution of $3,000.00" in text and "Only manager" in text
    assert f"drafted by Test {fund.manager.username}" in text
    before = journal_figures(uow_factory, fund.pool_id)
    asked = confirm(at, f"admin-approval-approve-{draft}")
    assert "exactly as shown above" in asked
    with uow_factory() as uow:
        approval = uow.session.get(Approval, draft)
        assert approval is not None and approval.decided_by == admin.user_id
        operation_id = approval.operation_id
    assert operations.process(str(operation_id), uow_factory) == "done"
    at = rerun_until(at, lambda a: any("Approved and posted" in s for s in successes(a)), what="the posting")
    after = journal_figures(uow_factory, fund.pool_id)
    assert after["distributions"] + after["carried_interest"] - before["distributions"] - before[
        "carried_interest"
    ] == D("3000")
    at = rerun_until(at, lambda a: True)  # (other tests' drafts may be waiting on the shared platform)
    assert not [b for b in at.button if b.key == f"admin-approval-approve-{draft}-ask"]
    assert waiting_ids(uow_factory, fund.pool_id) == []
