"""The fund manager's pages through the real app (AppTest from Home.py) on the real database.

Every irreversible act asks first, saying what will happen, and says what happened; money-moving
steps run as durable operations posted by a real `python -m core worker`. Figures are checked
against the journal entries summed by hand (manager_support.journal_figures), not against the read
model the pages use.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select

from app import format
from core import clock
from core.fundmath import scale_down
from core.services import approvals, calls, distributions, pools, users
from core.views import manager
from core.vocabulary import ExpenseCategory
from db.models import CallItem, CapitalCall, Commitment, Pool
from tests.app.manager_support import (
    Fund,
    button,
    confirm,
    deferred_downloads,
    done,
    errors,
    goto,
    infos,
    journal_figures,
    logged_in,
    metrics,
    page_text,
    question,
    real_worker,
    rerun_until,
    run_recording_live_fragments,
    successes,
    table,
    tick_fragments,
)

D = Decimal
FORM = "pages/manager_pool_form.py"
POOLS = "pages/manager_pools.py"
COMMITMENTS = "pages/manager_commitments.py"
CALLS = "pages/manager_calls.py"
DISTRIBUTIONS = "pages/manager_distributions.py"
PORTFOLIO = "pages/manager_portfolio.py"
DASHBOARD = "pages/manager_dashboard.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture
def worker() -> Any:
    with real_worker() as proc:
        yield proc


def money(amount: D) -> str:
    return format.money(amount, "USD")


def pools_of(uow_factory: Any, manager_id: int) -> list[pools.PoolView]:
    with uow_factory() as uow:
        found = uow.session.execute(select(Pool).where(Pool.manager_id == manager_id)).scalars()
        return [pools.PoolView.of(pool) for pool in found]


def done_with(at: Any, text: str, what: str) -> Any:
    return rerun_until(at, lambda a: any(text in s for s in successes(a)), what=what)


# --- create / edit / open a pool ---------------------------------------------------------------------

VALID = {
    "name": "Orbit Ventures I",
    "target_size": "5000000",
    "hard_cap": "7500000",
    "min_ticket": "25000",
    "max_ticket": "1000000",
    "management_fee_rate": "2",
    "management_fee_step_down_rate": "",
    "carry_rate": "20",
    "hurdle_rate": "8",
    "catch_up_rate": "100",
}
# One submit of all of these at once: each refused under its own field, by its label.
ALL_BAD = {
    "name": "",
    "target_size": "five million",
    "min_ticket": "1e9",
    "max_ticket": "100.001",
    "management_fee_rate": "15",
    "carry_rate": "-5",
    "hurdle_rate": "abc",
}
REFUSED = [
    "Name is required",
    "Target size is not a number",
    "Minimum ticket must be written out in digits",
    "Maximum ticket has more than 2 decimal places",
    "Management fee must be at most",
    "Carry must not be negative",
    "Hurdle is not a number",
]


def fill(at: Any, scope: str, values: dict[str, str]) -> None:
    for field, value in values.items():
        at.text_input(key=f"{scope}-{field}").input(value)


def test_the_pool_form_refuses_every_bad_term_at_once_and_writes_nothing(make: Any, uow_factory: Any) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    fill(at, "pool-new", {**VALID, **ALL_BAD})
    at = button(at, "Save draft").click().run()
    shown = errors(at)
    for expected in REFUSED:
        assert sum(expected in e for e in shown) == 1, (expected, shown)
    assert any(f"{len(REFUSED)} fields need attention" in e for e in shown), shown
    assert not any(e.startswith(("name:", "target_size", "amount:")) for e in shown)
    assert not successes(at) and pools_of(uow_factory, boss.user_id) == []


def test_create_edit_and_open_a_pool_after_confirming_what_opening_means(make: Any, uow_factory: Any) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    fill(at, "pool-new", VALID)
    at.date_input(key="pool-new-investment_period_end").set_value(clock.today() + timedelta(days=30))
    at = button(at, "Save draft").click().run()
    assert any("Investment period ends must not be before the close date" in e for e in errors(at))
    assert pools_of(uow_factory, boss.user_id) == []
    at.date_input(key="pool-new-investment_period_end").set_value(clock.today() + timedelta(days=900))
    at.selectbox(key="pool-new-management_fee_basis").set_value("invested")
    at.text_input(key="pool-new-management_fee_step_down_rate").input("1.5")
    at = button(at, "Save draft").click().run()
    assert not errors(at) and any("Draft saved" in s for s in successes(at)), (errors(at), successes(at))
    [saved] = pools_of(uow_factory, boss.user_id)
    assert (saved.status, saved.management_fee_rate, saved.management_fee_step_down_rate) == (
        "draft",
        D("0.02"),
        D("0.015"),
    )
    assert at.text_input(key=f"pool-{saved.id}-management_fee_step_down_rate").value == "1.5"

    # A second tab on the same draft, left open while the first opens the pool.
    other = goto(logged_in(boss.username), FORM, edit_pool_id=saved.id)
    asked = question(at, f"open-{saved.id}")
    assert asked.startswith(f"Open {saved.name} for commitments?"), asked
    assert "terms are fixed" in asked and "cannot go back to draft" in asked
    assert pools_of(uow_factory, boss.user_id)[0].status == "draft", "asking changed nothing"
    at.button(key=f"open-{saved.id}-yes").click().run()
    assert f"{saved.name} is open for commitments." in successes(at)
    assert pools_of(uow_factory, boss.user_id)[0].status == "open"
    assert at.text_input(key=f"pool-{saved.id}-name").disabled

    fill(other, f"pool-{saved.id}", {"name": "Renamed in a stale tab"})
    other = button(other, "Save draft").click().run()
    assert any("changed since the page was shown" in e for e in errors(other)), errors(other)
    assert pools_of(uow_factory, boss.user_id)[0].name == saved.name

    version = pools_of(uow_factory, boss.user_id)[0].version
    later = clock.today() + timedelta(days=200)
    at.date_input(key=f"pool-{saved.id}-close_date").set_value(later)
    at = button(at, "Save close date").click().run()
    assert "Close date saved." in successes(at)
    [moved] = pools_of(uow_factory, boss.user_id)
    assert (moved.close_date, moved.version) == (later, version + 1)


def test_the_gps_own_commitment_is_set_on_the_form_and_committed_when_the_pool_opens(
    make: Any, uow_factory: Any
) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    fill(at, "pool-new", {**VALID, "gp_commitment": "7500000.01"})
    at = button(at, "Save draft").click().run()
    assert any("GP commitment must not be above the hard cap" in e for e in errors(at)), errors(at)
    assert pools_of(uow_factory, boss.user_id) == []
    fill(at, "pool-new", {"gp_commitment": "250000"})
    at = button(at, "Save draft").click().run()
    assert not errors(at), errors(at)
    [saved] = pools_of(uow_factory, boss.user_id)
    assert saved.gp_commitment == D("250000")
    question(at, f"open-{saved.id}")
    at.button(key=f"open-{saved.id}-yes").click().run()
    assert f"{saved.name} is open for commitments." in successes(at)
    with uow_factory() as uow:
        assert pools.gp_investors(uow, saved.id) == {boss.user_id}
    board = goto(logged_in(boss.username), DASHBOARD, manager_pool_id=saved.id)
    assert metrics(board)["Committed"] == money(D("250000"))
    [committed] = [m for m in board.metric if m.label == "Committed"]
    assert "Of which the GP's own commitment: $250,000.00" in committed.proto.help, committed.proto.help


# --- my pools ----------------------------------------------------------------------------------------


def test_my_pools_keep_their_order_show_one_money_format_and_close_after_confirming(
    make: Any, uow_factory: Any
) -> None:
    boss = make.user("fund_manager")
    empty, _ = make.pool(boss, name="Harbor Fund")
    raising, _ = make.pool(boss, name="Raising Fund")
    make.commitment(raising, amount="120000", accept_as=boss)
    draft, _ = make.pool(boss, status="draft", name="Draft Fund")
    at = logged_in(boss.username)
    order = ["Draft Fund", "Raising Fund", "Harbor Fund"]  # newest first
    assert [s.value for s in at.subheader] == order
    text = page_text(at)
    assert "Committed $120,000.00 of a $1,000,000.00 target (hard cap $1,500,000.00)" in text
    assert "1 investor" in text and "120.00K" not in text and "0.12M" not in text

    asked = question(at, f"close-{empty}")
    assert asked.startswith("Close Harbor Fund with $0.00 committed by 0 investors"), asked
    assert "capital can only be called from the commitments accepted" in asked
    assert "cannot be reopened" in asked
    at.button(key=f"close-{empty}-yes").click().run()
    assert any("Harbor Fund is closed with $0.00 committed" in s for s in successes(at)), successes(at)
    asked = confirm(at, f"open-{draft}")
    assert "terms are fixed" in asked
    assert any("Draft Fund is open for commitments." in s for s in successes(at))
    with uow_factory() as uow:
        statuses = {p: pools.load_pool(uow, p).status for p in (empty, draft, raising)}
    assert statuses == {empty: "closed", draft: "open", raising: "open"}
    assert [s.value for s in at.subheader] == order, "the cards keep their places after each act"
    make.commitment(raising, amount="30000", accept_as=boss)
    at.run()
    assert [s.value for s in at.subheader] == order


def test_my_pools_progress_is_live_without_a_page_run(
    make: Any, uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = make.user("fund_manager")
    open_id, _ = make.pool(boss, name="Live Fund")
    make.commitment(open_id, amount="120000", accept_as=boss)
    reads: list[int] = []
    my_pools = manager.my_pools

    def counted(*args: Any) -> Any:
        reads.append(1)
        return my_pools(*args)

    monkeypatch.setattr(manager, "my_pools", counted)
    at = logged_in(boss.username)
    live = run_recording_live_fragments(at)
    assert len(live) == 1 and 0 < next(iter(live.values())) <= 5, live
    assert "pending $0.00" in page_text(at)
    reads.clear()
    at = tick_fragments(at, list(live))
    assert reads == [] and "pending $0.00" in page_text(at)  # nothing moved: no pool re-read
    make.commitment(open_id, amount="30000")
    at = tick_fragments(at, list(live))
    assert "My pools" not in [t.value for t in at.title]  # the fragment alone ran
    assert "pending $30,000.00" in page_text(at) and reads == [1]
    later = clock.today() + timedelta(days=123)
    with uow_factory() as uow:
        current = {f: getattr(pools.get_pool(boss, uow, open_id), f) for f in pools.TERM_FIELDS}
        pools.update_pool_terms(boss, uow, open_id, {**current, "close_date": later})
    at = tick_fragments(at, list(live))
    assert f"closes {later.isoformat()}" in page_text(at)


# --- commitments -------------------------------------------------------------------------------------


def test_accept_scaled_down_and_reject_commitments_each_after_confirming(make: Any, uow_factory: Any) -> None:
    pool_id, boss = make.pool()
    full, first = make.commitment(pool_id, amount="100000")
    scaled, _ = make.commitment(pool_id, amount="200000")
    refused, third = make.commitment(pool_id, amount="50000")
    at = goto(logged_in(boss.username), COMMITMENTS, manager_pool_id=pool_id)
    assert "Pending (3)" in page_text(at)
    other = goto(logged_in(boss.username), COMMITMENTS, manager_pool_id=pool_id)

    asked = confirm(at, f"accept-{full}")
    assert asked.startswith(f"Accept $100,000.00 from Test {first.username} (asked $100,000.00)?"), asked
    assert f"Accepted $100,000.00 from Test {first.username}." in successes(at)
    at.text_input(key=f"amt-{scaled}").input("1e5").run()
    assert any("Amount must be written out in digits" in e for e in errors(at)), errors(at)
    assert at.button(key=f"accept-{scaled}-ask").disabled
    at.text_input(key=f"amt-{scaled}").input("250000").run()
    confirm(at, f"accept-{scaled}")
    assert any("Amount cannot be above what the investor asked for" in e for e in errors(at)), errors(at)
    at.text_input(key=f"amt-{scaled}").input("150000").run()
    asked = confirm(at, f"accept-{scaled}")
    assert "Accept $150,000.00" in asked
    assert any("(scaled down from $200,000.00)" in s for s in successes(at)), successes(at)

    # The other tab asked to accept the commitment this one then rejects: its answer decides nothing.
    question(other, f"accept-{refused}")
    asked = confirm(at, f"reject-{refused}")
    assert asked.startswith(f"Reject Test {third.username}'s commitment of $50,000.00?"), asked
    other.button(key=f"accept-{refused}-yes").click().run()
    assert not [b for b in other.button if b.key == f"accept-{refused}-yes"]
    with uow_factory() as uow:
        rows = {
            c.id: (c.status, c.amount_accepted)
            for c in uow.session.execute(select(Commitment).where(Commitment.pool_id == pool_id)).scalars()
        }
    assert rows == {
        full: ("accepted", D("100000")),
        scaled: ("accepted", D("150000")),
        refused: ("rejected", None),
    }
    at.run()
    assert "Pending (0)" in page_text(at)
    assert metrics(at)["Committed"] == money(journal_figures(uow_factory, pool_id)["commitment"])

    asked = confirm(at, f"close-{pool_id}")
    assert "with $250,000.00 committed by 2 investors" in asked
    with uow_factory() as uow:
        assert pools.load_pool(uow, pool_id).status == "closed"


def test_scale_all_down_to_fit_the_hard_cap_with_a_real_worker(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    pool_id, boss = make.pool(
        target_size="1000000", hard_cap="1000000", min_ticket="10000", max_ticket="600000"
    )
    asked_for = {make.commitment(pool_id, amount=a)[0]: D(a) for a in ("500000", "400000", "300000.01")}
    make.commitment(pool_id, amount="100000", accept_as=boss)
    at = goto(logged_in(boss.username), COMMITMENTS, manager_pool_id=pool_id)
    at = button(at, "Preview scale-down").click().run()
    expected = scale_down(asked_for, D("900000"), D("10000"), D("0.01"))
    assert "to accept $900,000.00" in page_text(at)
    asked = confirm(at, "scale-down")
    assert "Accept 3 commitments for $900,000.00 in all" in asked
    at = done_with(at, "3 commitments accepted for $900,000.00", "the settlement")
    with uow_factory() as uow:
        accepted = dict(
            uow.session.execute(
                select(Commitment.id, Commitment.amount_accepted).where(Commitment.id.in_(list(asked_for)))
            ).all()
        )
    assert accepted == expected and sum(expected.values()) == D("900000")
    assert journal_figures(uow_factory, pool_id)["commitment"] == D("1000000")


# --- capital calls -----------------------------------------------------------------------------------


def test_issue_a_capital_call_after_confirming_it(make: Any, uow_factory: Any, worker: Any) -> None:
    fund = Fund(make, age=30)
    at = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    form = "capital-call-0"
    today = clock.today()
    assert at.date_input(key=f"{form}-due").value == calls.default_due_date(today)
    at.date_input(key=f"{form}-date").set_value(today - timedelta(days=3)).run()
    assert at.date_input(key=f"{form}-due").value == calls.default_due_date(today - timedelta(days=3))
    # Bounds the service enforces show as messages naming the field, every one of a form at once.
    at.text_input(key=f"{form}-value").input("abc")
    at = button(at, "Preview the call").click().run()
    assert any("Percentage is not a number" in e for e in errors(at)), errors(at)
    assert any("Purpose is required" in e for e in errors(at)), errors(at)
    at.text_input(key=f"{form}-purpose").input("Series A")
    at.text_input(key=f"{form}-value").input("0.0000001")
    at = button(at, "Preview the call").click().run()
    assert any("Percentage would call" in e and "larger percentage" in e for e in errors(at)), errors(at)
    at.radio(key=f"{form}-mode").set_value("An amount").run()
    at.text_input(key=f"{form}-value").input("1e5")
    at = button(at, "Preview the call").click().run()
    assert any("Amount must be written out in digits" in e for e in errors(at)), errors(at)
    with uow_factory() as uow:
        assert not uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == fund.pool_id)
        ).first()

    at.radio(key=f"{form}-mode").set_value("A percentage of commitments").run()
    at.text_input(key=f"{form}-value").input("33.33")
    at = button(at, "Preview the call").click().run()
    assert not errors(at), errors(at)
    assert "**Capital call 1 (Series A)**: $199,980.00 from 3 investors" in page_text(at)
    asked = confirm(at, "capital-call")
    due = calls.default_due_date(today - timedelta(days=3)).isoformat()
    assert asked.startswith(f"Issue Capital call 1 (Series A) for $199,980.00 to 3 investors, due {due}?")
    assert "cannot be withdrawn" in asked
    at = done_with(at, "Capital call 1 (Series A) is issued", "the call to post")
    # The form is empty again.
    assert (
        at.text_input(key="capital-call-1-value").value == ""
        and at.text_input(key="capital-call-1-purpose").value == ""
    )
    with uow_factory() as uow:
        [(call_id, status, amount, call_date)] = uow.session.execute(
            select(CapitalCall.id, CapitalCall.status, CapitalCall.amount, CapitalCall.call_date).where(
                CapitalCall.pool_id == fund.pool_id
            )
        ).all()
        dues = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.amount_due).where(CallItem.call_id == call_id)
            ).all()
        )
    assert (status, amount, call_date) == ("issued", D("199980"), today - timedelta(days=3))
    assert sum(dues.values()) == amount
    fig = journal_figures(uow_factory, fund.pool_id)
    assert metrics(at)["Called"] == money(fig["called"]) == money(amount)

    # The call book names it and shows its status; the notice downloads as CSV, one row per investor.
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    book = at.dataframe[0].value
    assert (list(book["Capital call"]), list(book["Status"])) == (["Capital call 1 (Series A)"], ["Issued"])
    with deferred_downloads() as downloads:
        at.run()
    [notice] = at.get("download_button")
    data = downloads[notice.proto.deferred_file_id]()
    rows = list(csv.DictReader(io.StringIO(data if isinstance(data, str) else data.decode())))
    assert {int(r["investor_id"]): D(r["amount_due"]) for r in rows} == dues
    assert {(r["call"], r["due_date"], r["status"]) for r in rows} == {("1", due, "open")}
    assert all(r["amount_due"] == f"{D(r['amount_due']):.2f}" for r in rows)

    # By investor: unfunded is what is committed and not yet called (ILPA), per investor.
    at = at.radio(key="calls-view").set_value("By investor").run()
    balances = at.dataframe[0].value
    for investor in fund.investors:
        mine = journal_figures(uow_factory, fund.pool_id, investor_id=investor.user_id)
        row = balances[balances["Investor"] == f"Test {investor.username}"].iloc[0]
        assert (row["Unfunded"], row["Outstanding"]) == (
            mine["commitment"] - mine["called"],
            mine["outstanding"],
        )


# --- distributions -----------------------------------------------------------------------------------


def test_a_distribution_is_drafted_by_one_manager_and_approved_by_another_who_sees_the_same_waterfall(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    fund = Fund(make, age=500)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    fund.invest(fund.day(20), "Acme", "250000")
    fund.exit(fund.day(450), "Acme", "410000.17")
    co = make.user("fund_manager")
    with uow_factory() as uow:
        pools.add_manager(fund.manager, uow, fund.pool_id, co.user_id)
    proceeds = D("400000.01")
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    at.text_input(key="distribution-0-proceeds").input("99999999")
    at = button(at, "Preview the waterfall").click().run()
    assert any(e.startswith("Proceeds ") and "more than the pool's cash" in e for e in errors(at)), errors(at)
    at.text_input(key="distribution-0-proceeds").input(str(proceeds))
    at.text_input(key="distribution-0-memo").input("Acme exit")
    at = button(at, "Preview the waterfall").click().run()
    assert not errors(at), errors(at)
    [chart] = at.get("plotly_chart")
    [trace] = json.loads(chart.proto.spec)["data"]
    assert trace["type"] == "waterfall" and trace["x"][-1] == "Proceeds"
    assert sum(D(str(y)) for y in trace["y"][:-1]) == proceeds  # float-ok: plotly's coordinates sum back
    lp, gp = metrics(at)["To investors"], metrics(at)["Carried interest"]
    drafted_tables = [t.value.to_dict() for t in at.dataframe[:2]]
    assert not [b for b in at.button if b.label in ("Distribute", "Approve")]  # no posting by one person
    before = journal_figures(uow_factory, fund.pool_id)
    asked = confirm(at, "distribution-draft")
    assert asked.startswith(
        f"Submit the distribution of {money(proceeds)} on {clock.today().isoformat()} (Acme exit): {lp} to 3 "
        f"investors and {gp} of carried interest"
    ), asked
    assert "you cannot approve it yourself" in asked
    assert any("Submitted for approval" in s for s in successes(at)), successes(at)
    assert at.text_input(key="distribution-1-proceeds").value == ""  # the form is reset
    # The drafter sees it waiting for a second manager, with no Approve of their own; nothing posted.
    assert any("Waiting for a second manager" in i for i in infos(at)), infos(at)
    assert not [b for b in at.button if b.label == "Approve"]
    assert journal_figures(uow_factory, fund.pool_id) == before

    # The co-manager sees the same waterfall and approves it.
    other = goto(logged_in(co.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    assert "Waiting for approval" in [h.value for h in other.subheader]
    assert (metrics(other)["To investors"], metrics(other)["Carried interest"]) == (lp, gp)
    assert [t.value.to_dict() for t in other.dataframe[:2]] == drafted_tables
    [approve] = [b for b in other.button if b.label == "Approve"]
    key = approve.key.removesuffix("-ask")
    asked = confirm(other, key)
    assert f"drafted by Test {fund.manager.username}, exactly as shown above" in asked, asked
    other = done_with(other, "Approved and posted Distribution of $400,000.01", "the distribution")
    after = journal_figures(uow_factory, fund.pool_id)
    assert money(after["distributions"] - before["distributions"]) == lp
    assert money(after["carried_interest"] - before["carried_interest"]) == gp
    assert after["cash"] == before["cash"] - proceeds
    past = table(other, "Memo")
    assert list(past["Memo"]) == ["Acme exit"]
    assert past["To investors"][0] + past["Carry"][0] == proceeds
    assert not [b for b in other.button if b.label == "Approve"]
    assert "No distribution is waiting for approval." in page_text(other)


# --- portfolio ---------------------------------------------------------------------------------------


def test_buy_value_and_exit_through_the_forms_then_nav_is_cash_plus_holdings_at_their_marks(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    fund = Fund(make, age=200)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))  # 300,000 in cash
    fund.invest(fund.day(20), "Beta", "50000")
    at = goto(logged_in(fund.manager.username), PORTFOLIO, manager_pool_id=fund.pool_id)

    at.text_input(key="investment-0-company").input("Acme")
    at.text_input(key="investment-0-amount").input("200000").run()
    asked = confirm(at, "investment")
    assert asked.startswith(f"Invest $200,000.00 in Acme on {clock.today().isoformat()}?"), asked
    at = done_with(at, "Investment recorded: $200,000.00 in Acme", "the investment")
    assert at.text_input(key="investment-1-company").value == ""

    acme = fund.company("Acme")
    [holding] = [s for s in at.selectbox if s.key == "valuation-0-company"]
    assert holding.value is None
    holding.set_value(acme).run()
    at.text_input(key="valuation-0-value").input("260000").run()
    asked = confirm(at, "valuation")
    assert "Value Acme at $260,000.00" in asked and "NAV moves by $60,000.00" in asked, asked
    at = done_with(at, "Valuation recorded: Acme at $260,000.00", "the valuation")
    assert metrics(at)["Portfolio value"] == money(D("310000"))

    at.selectbox(key="exit-0-company").set_value(acme).run()
    at.text_input(key="exit-0-proceeds").input("400000").run()
    asked = confirm(at, "exit")
    assert "cost $200,000.00, valued $260,000.00" in asked and "$200,000.00 is realized" in asked, asked
    assert "NAV moves by $140,000.00" in asked
    at = done_with(at, "Exit recorded: Acme sold for $400,000.00, realized gain $200,000.00", "the exit")

    fig = journal_figures(uow_factory, fund.pool_id)
    shown = metrics(at)
    assert shown["Cash"] == money(fig["cash"]) == money(D("450000"))
    assert shown["Portfolio value"] == money(fig["portfolio_value"]) == money(D("50000"))  # Beta at cost
    assert shown["Unrealized"] == money(D(0)) and shown["Realized"] == money(D("200000"))
    assert shown["NAV"] == money(fig["cash"] + fig["portfolio_value"]) == money(fig["nav"])
    held, exits = at.dataframe[0].value, at.dataframe[1].value
    assert list(held["Company"]) == ["Beta"] and list(held["Value"]) == [D("50000")]
    assert list(exits["Company"]) == ["Acme"] and list(exits["Realized gain"]) == [D("200000")]
    assert (
        list(exits["Proceeds"]) == [D("400000")]
        and str(exits["Exited on"][0])[:10] == clock.today().isoformat()
    )
    # The exited company is no longer offered to value or to sell.
    assert not [o for o in at.selectbox(key="valuation-1-company").options if o.startswith("Acme")]
    nav = {t["name"]: t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}["NAV"]
    assert D(str(nav["y"][-1])) == fig["nav"]


def test_charge_a_management_fee_after_previewing_it(make: Any, uow_factory: Any, worker: Any) -> None:
    fund = Fund(make, age=200)
    at = goto(logged_in(fund.manager.username), PORTFOLIO, manager_pool_id=fund.pool_id)
    start, end = fund.day(1), fund.day(183)
    at.date_input(key="fee-0-start").set_value(start)
    at.date_input(key="fee-0-end").set_value(end)
    at = button(at, "Preview the fee").click().run()
    assert not errors(at), errors(at)
    fees = at.dataframe[-1].value
    total = sum(fees["Fee"], D(0))
    asked = confirm(at, "fee")
    assert asked.startswith(f"Charge {money(total)} of management fees for {start} to {end} to 3 investors?")
    at = done_with(at, f"Management fee charged: {money(total)}", "the fee")
    assert journal_figures(uow_factory, fund.pool_id)["management_fees"] == total > 0


def test_record_a_fund_expense_the_second_click_does_nothing_more(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    fund = Fund(make, age=200)
    fund.call("10", fund.day(5))
    fund.pay_call(1, fund.day(8))  # 60,000 of cash
    at = goto(logged_in(fund.manager.username), PORTFOLIO, manager_pool_id=fund.pool_id)
    assert "No fund expense yet" in " ".join(c.value for c in at.caption)
    at.selectbox(key="expense-0-category").set_value(ExpenseCategory.LEGAL)
    at.text_input(key="expense-0-memo").set_value("Side letters, Baker LLP")
    at = at.text_input(key="expense-0-amount").set_value("1000").run()
    shares = at.dataframe[-1].value
    assert list(shares["Share"]) == [D("166.67"), D("333.33"), D("500.00")]
    asked = confirm(at, "expense")
    assert asked.startswith(
        "Pay $1,000.00 of fund expenses (Legal: Side letters, Baker LLP) from the pool's cash"
    )
    at = done_with(at, "Fund expense recorded: $1,000.00 (Legal: Side letters, Baker LLP).", "the expense")
    assert journal_figures(uow_factory, fund.pool_id)["fund_expenses"] == D("1000")
    assert journal_figures(uow_factory, fund.pool_id)["cash"] == D("59000")
    # The form starts empty again: nothing to click twice.
    assert at.text_input(key="expense-1-amount").value == ""
    assert at.button(key="expense-ask").disabled
    [listed] = [frame.value for frame in at.dataframe if "Memo" in frame.value]
    assert list(listed["Memo"]) == ["Side letters, Baker LLP"] and list(listed["Category"]) == ["Legal"]


def test_wind_a_pool_down_from_the_distributions_page(make: Any, uow_factory: Any, worker: Any) -> None:
    """Everything sold at a profit and paid out: the wind-down releases the escrow to the GP."""
    fund = Fund(make, age=300, hurdle_rate="0", catch_up_rate="0", escrow_rate="0.25")
    fund.call("100", fund.day(5))
    fund.pay_call(1, fund.day(8))
    fund.invest(fund.day(10), "Acme", "600000")
    fund.exit(fund.day(100), "Acme", "700000")
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    at = button(at, "Preview the wind-down").click().run()
    assert any("must be distributed" in e for e in errors(at)), errors(at)  # 700,000 still to pay out
    # Carry 20% of each investor's profit (16,666.67, 33,333.33, 50,000.00), rounded down: 3,333.33 +
    # 6,666.66 + 10,000.00 = 19,999.99; escrow 25% of it, half up: 5,000.00.
    fund.distribute(fund.day(101), "700000")
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    at = button(at, "Preview the wind-down").click().run()
    assert not errors(at), errors(at)
    shown = metrics(at)
    assert (shown["Carry received"], shown["Carry due"], shown["Escrow released to the GP"]) == (
        money(D("19999.99")),
        money(D("19999.99")),
        money(D("5000")),
    )
    asked = confirm(at, "wind_down")
    assert asked.startswith("Wind Pool ") and "down today and post the carry true-up above?" in asked
    at = done_with(at, "is wound down; its carry true-up is posted.", "the wind-down")
    figures = journal_figures(uow_factory, fund.pool_id)
    assert (figures["cash"], figures["carried_interest"], figures["nav"]) == (0, D("19999.99"), 0)
    with uow_factory() as uow:
        assert uow.session.get(Pool, fund.pool_id).status == "wound_down"


def test_a_deal_by_deal_pool_is_set_on_the_form_and_each_distribution_names_its_deal(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    fill(at, "pool-new", VALID)
    at.selectbox(key="pool-new-waterfall_model").set_value("deal_by_deal")
    at = button(at, "Save draft").click().run()
    assert not errors(at), errors(at)
    assert [p.waterfall_model for p in pools_of(uow_factory, boss.user_id)] == ["deal_by_deal"]

    # 600,000 paid in; Acme (300,000) sells for 450,000, Birch (200,000) is held, 100,000 never invested.
    fund = Fund(make, age=300, hurdle_rate="0", catch_up_rate="0", waterfall_model="deal_by_deal")
    fund.call("100", fund.day(5))
    fund.pay_call(1, fund.day(8))
    fund.invest(fund.day(10), "Acme", "300000")
    fund.invest(fund.day(12), "Birch", "200000")
    fund.exit(fund.day(100), "Acme", "450000")
    co = make.user("fund_manager")
    with uow_factory() as uow:
        pools.add_manager(fund.manager, uow, fund.pool_id, co.user_id)
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    assert at.selectbox(key="distribution-0-deal").options == ["Acme", "Uninvested capital"]
    at.text_input(key="distribution-0-proceeds").input("450000")
    at = button(at, "Preview the waterfall").click().run()
    assert any("Deal choose the deal whose exit proceeds" in e for e in errors(at)), errors(at)
    assert not any("Proceeds" in e for e in errors(at)), errors(at)
    at.selectbox(key="distribution-0-deal").set_value(fund.company("Acme")).run()
    assert "$450,000.00 of it not yet distributed." in page_text(at)
    at.text_input(key="distribution-0-proceeds").input("450000.01")
    at = button(at, "Preview the waterfall").click().run()
    assert any("more than this deal's exit proceeds not yet distributed" in e for e in errors(at)), errors(at)
    at.text_input(key="distribution-0-proceeds").input("450000")
    at.text_input(key="distribution-0-memo").input("Acme sale")
    at = button(at, "Preview the waterfall").click().run()
    assert not errors(at), errors(at)
    # Acme's own waterfall: capital 300,000 back, profit 150,000, carry 30,000. A whole-fund pool
    # would pay no carry yet: 600,000 was paid in.
    assert (metrics(at)["To investors"], metrics(at)["Carried interest"]) == (
        money(D("420000")),
        money(D("30000")),
    )
    asked = confirm(at, "distribution-draft")
    assert "(Acme sale) from Acme: $420,000.00 to 3 investors and $30,000.00 of carried interest" in asked, (
        asked
    )

    other = goto(logged_in(co.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    [approve] = [b for b in other.button if b.label == "Approve"]
    confirm(other, approve.key.removesuffix("-ask"))
    other = done_with(other, "Approved and posted Distribution of $450,000.00", "the distribution")
    figures = journal_figures(uow_factory, fund.pool_id)
    assert (figures["distributions"], figures["carried_interest"]) == (D("420000"), D("30000"))
    past = table(other, "Memo")
    assert (list(past["Deal"]), list(past["Carry"])) == (["Acme"], [D("30000")])
    # Acme is paid out: only the capital never invested is left to choose.
    [deal] = [box for box in other.selectbox if box.label == "Deal"]
    assert deal.options == ["Uninvested capital"]

    # The 100,000 never invested, drafted twice (two tabs): once one is approved nothing is left to
    # distribute, and the other still waits, to be refused when approved, not hidden.
    request = {"deal": distributions.NO_DEAL, "proceeds": "100000", "date": clock.today(), "memo": "Unused"}
    with uow_factory() as uow:
        first = approvals.draft(fund.manager, uow, fund.pool_id, distributions.KIND, request)
    with uow_factory() as uow:
        approvals.draft(fund.manager, uow, fund.pool_id, distributions.KIND, request)
    with uow_factory() as uow:
        done(uow_factory, approvals.approve(co, uow, first))
    other = goto(logged_in(co.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    assert any("Neither is waiting to be distributed" in i for i in infos(other)), infos(other)
    [approve] = [b for b in other.button if b.label == "Approve"]
    confirm(other, approve.key.removesuffix("-ask"))
    assert any("changed since" in e for e in errors(other)), errors(other)
    assert journal_figures(uow_factory, fund.pool_id)["distributions"] == D("520000")


# --- dashboard and the rest --------------------------------------------------------------------------


def test_the_dashboard_shows_the_journal_entries_figures(make: Any, uow_factory: Any) -> None:
    fund = Fund(make, age=400)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    fund.invest(fund.day(20), "Acme", "200000")
    fund.mark(fund.day(200), "Acme", "300000")
    fund.distribute(fund.day(300), "50000")
    at = goto(logged_in(fund.manager.username), DASHBOARD, manager_pool_id=fund.pool_id)
    fig = journal_figures(uow_factory, fund.pool_id)
    shown = metrics(at)
    for label, key in (
        ("Committed", "commitment"),
        ("Called", "called"),
        ("Paid-in", "contributions"),
        ("Outstanding", "outstanding"),
        ("Unfunded", "unfunded"),
        ("NAV", "nav"),
        ("Distributed", "distributions"),
    ):
        assert shown[label] == money(fig[key]), label
    tvpi = (fig["distributions"] + fig["nav"]) / fig["contributions"]
    assert shown["TVPI"] == format.multiple(tvpi) and shown["Investors"] == "3"
    assert shown["Net IRR"].endswith("%")
    assert len(at.get("plotly_chart")) == 3
    capital = {t["name"]: t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert D(str(capital["Committed"]["y"][0])) == D("600000")  # committed before anything was called
    for page in (CALLS, PORTFOLIO, DISTRIBUTIONS, POOLS):
        at = goto(at, page, manager_pool_id=fund.pool_id)
        assert not errors(at), (page, errors(at))
        assert not any(c in page_text(at) for c in ("None", "nan", "0.00K"))


def test_an_open_pools_calls_page_says_what_comes_first(make: Any) -> None:
    pool_id, boss = make.pool()
    at = goto(logged_in(boss.username), CALLS, manager_pool_id=pool_id)
    assert any("Close the pool to new commitments before calling capital" in i.value for i in at.info)
    with make.uow_factory() as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(CapitalCall).where(CapitalCall.pool_id == pool_id)
            )
            == 0
        )
