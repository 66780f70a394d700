"""Approval by a second person in Chromium (issue 17), against the running app (Streamlit + a worker,
demo data): the demo manager drafts a distribution on the Distributions page and sees it wait for a
second manager, with no Approve of her own; the demo co-manager, in another browser, sees the same
waterfall and approves it (asked first); the app's worker posts it, and the demo investor sees it on
the pool's page. Afterwards the ledger holds exactly the approved preview, to the cent."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select, text

from core.permissions import Actor
from core.services import calls, commitments, payments, pools
from db.models import Approval, CallItem, Operation
from tests.conftest import Factory
from tests.e2e.test_manager_journey import choose, go, second_tab, sign_in, uow, user_id
from tests.workers import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def posted(database_url: str, operation_id: Any) -> None:
    def done() -> bool:  # by the app's worker
        with uow(database_url) as unit:
            return unit.session.get(Operation, operation_id).status == "done"

    wait_until(done, 90, what="the operation to post")


def paid_in_pool(database_url: str) -> tuple[int, str]:
    """A pool of the demo manager's, co-managed by the demo co-manager: the demo investor committed
    100,000, half of it called and paid (posted by the app's worker)."""
    name = f"Approval Fund {secrets.token_hex(3)}"
    manager = Actor(user_id(database_url, "manager"), "fund_manager", "manager")
    investor = Actor(user_id(database_url, "investor"), "investor", "investor")
    with uow(database_url) as unit:
        pool_id = pools.create_pool(manager, unit, Factory.terms(name=name, hard_cap="2000000"))
    with uow(database_url) as unit:
        pools.add_manager(manager, unit, pool_id, user_id(database_url, "comanager"))
    with uow(database_url) as unit:
        pools.open_pool(manager, unit, pool_id)
    with uow(database_url) as unit:
        commitment = commitments.submit_commitment(investor, unit, pool_id, "100000")
    with uow(database_url) as unit:
        commitments.accept_commitment(manager, unit, commitment)
    with uow(database_url) as unit:
        pools.close_pool(manager, unit, pool_id)
    with uow(database_url) as unit:
        command = calls.preview(manager, unit, pool_id, {"percent": "50", "purpose": "Seed"}).command
        posted(database_url, calls.issue(manager, unit, command).id)
    with uow(database_url) as unit:
        item = (
            unit.session.execute(
                select(CallItem.id)
                .where(CallItem.investor_id == investor.user_id)
                .order_by(CallItem.id.desc())
            )
            .scalars()
            .first()
        )
        request = {"call_item_id": item, "amount": "50000", "reference": f"E2E-{secrets.token_hex(3)}"}
        payment = payments.record(manager, unit, payments.preview(manager, unit, pool_id, request).command)
    posted(database_url, payment.id)
    return pool_id, name


def distributed(database_url: str, pool_id: int, kind: str) -> dict[int, Decimal]:
    """Each investor's amount debited to capital by this pool's journals of a kind, from the entries."""
    with uow(database_url) as unit:
        rows = unit.session.execute(
            text(
                """SELECT e.investor_id, sum(e.amount) FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.pool_id = :pool AND j.kind = :kind AND e.account = 'capital' AND e.side = 'D'
                    GROUP BY e.investor_id"""
            ),
            {"pool": pool_id, "kind": kind},
        ).all()
    return {investor: amount for investor, amount in rows}


def answer(page: Any, yes: str, then: str) -> None:
    """Answer a question yes and wait for what it says happened. On a loaded machine a click can land
    while the page is still rerunning and be lost; the question is still there then, so it is
    clicked again (once answered, the question is gone: it cannot be answered twice)."""
    for _ in range(4):
        with contextlib.suppress(PlaywrightTimeout):
            button = page.get_by_role("button", name=yes)
            if button.count():
                button.click(timeout=10_000)
        try:
            page.get_by_text(then).first.wait_for(timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    page.get_by_text(then).first.wait_for()


def open_distributions(page: Any, app_url: str, username: str, name: str) -> None:
    sign_in(page, app_url, username)
    go(page, "Distributions")
    choose(page, "Pool", f"{name} (closed)")
    page.get_by_role("heading", name="Waiting for approval").wait_for()


def test_one_manager_drafts_a_distribution_a_second_approves_it_the_investor_sees_it(
    page,
    browser,
    app_url,
    app_env,  # noqa: ANN001
) -> None:
    database_url = app_env["DATABASE_URL"]
    pool_id, name = paid_in_pool(database_url)
    memo = f"Interest {secrets.token_hex(3)}"
    page.set_default_timeout(90_000)
    open_distributions(page, app_url, "manager", name)
    page.get_by_role("textbox", name="Proceeds to distribute (USD)").fill("12345.67")
    page.get_by_role("textbox", name="Memo").fill(memo)
    page.get_by_role("button", name="Preview the waterfall").click()
    page.get_by_role("heading", name="Waterfall for $12,345.67").wait_for()
    expect(page.get_by_role("button", name="Distribute", exact=True)).to_have_count(
        0
    )  # no one-person posting
    page.get_by_role("button", name="Submit for approval", exact=True).click()
    page.get_by_text("Submit the distribution of $12,345.67").wait_for()  # asked first
    answer(page, "Yes, submit it for approval", "Submitted for approval")
    page.get_by_text("Waiting for a second manager").wait_for()
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)  # not by the drafter
    with uow(database_url) as unit:
        approval = unit.session.execute(
            select(Approval).where(Approval.pool_id == pool_id, Approval.status == "drafted")
        ).scalar_one()
        approval_id, figures = approval.id, approval.figures
    assert distributed(database_url, pool_id, "distribution") == {}

    with second_tab(browser) as other:
        open_distributions(other, app_url, "comanager", name)
        other.get_by_text(re.compile(rf"Distribution of \$12,345\.67 .*{memo}")).first.wait_for()
        other.get_by_text("drafted by Maya Manager").wait_for()
        other.get_by_role("button", name="Approve", exact=True).click()
        other.get_by_text("drafted by Maya Manager, exactly as shown above?").wait_for()
        answer(other, "Yes, approve and post it", "Approved and posted Distribution of $12,345.67")
        other.get_by_text("No distribution is waiting for approval.").wait_for()

    # The ledger holds exactly the approved preview, investor by investor, to the cent.
    lp, gp = distributed(database_url, pool_id, "distribution"), distributed(database_url, pool_id, "carry")
    approved_lp = {int(i): Decimal(v) for i, _, _, v, _ in figures["lines"] if Decimal(v) > 0}
    approved_gp = {int(i): Decimal(v) for i, _, _, _, v in figures["lines"] if Decimal(v) > 0}
    assert (lp, gp) == (approved_lp, approved_gp)
    assert sum(lp.values(), Decimal(0)) + sum(gp.values(), Decimal(0)) == Decimal("12345.67")
    with uow(database_url) as unit:
        decided = unit.session.get(Approval, approval_id)
        assert decided.status == "approved" and decided.decided_by == user_id(database_url, "comanager")

    # The investor sees it: their pool page's Distributed is what was posted to them.
    investor = user_id(database_url, "investor")
    with second_tab(browser) as theirs:
        sign_in(theirs, app_url, "investor")
        go(theirs, "Pool detail")
        choose(theirs, "Pool", f"{name} (closed)")
        theirs.get_by_role("heading", name=name).wait_for()
        box = theirs.get_by_test_id("stMetric").filter(
            has=theirs.get_by_test_id("stMetricLabel").get_by_text("Distributed", exact=True)
        )
        expect(box.get_by_test_id("stMetricValue").first).to_have_text(f"${lp[investor]:,.2f}")
