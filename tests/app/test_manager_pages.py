"""The fund manager's pages through the real app (AppTest from Home.py) on the real database.

Money-moving steps run as durable operations processed by a real `python -m core worker`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select

from app.manager_ui import money
from core import operations, positions
from core.fundmath import scale_down
from core.services import manager, pools, users
from db.models import CallItem, CapitalCall, Commitment, Pool
from tests.app.manager_support import (
    button,
    deferred_downloads,
    errors,
    goto,
    logged_in,
    page_text,
    real_worker,
    rerun_until,
    run_recording_live_fragments,
    successes,
    tick_fragments,
)

FORM = "pages/manager_pool_form.py"
COMMITMENTS = "pages/manager_commitments.py"
CALLS = "pages/manager_calls.py"
DISTRIBUTIONS = "pages/manager_distributions.py"
PORTFOLIO = "pages/manager_portfolio.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture(scope="module")
def worker() -> Any:
    with real_worker() as proc:
        yield proc


def pools_of(uow_factory: Any, manager_id: int) -> list[pools.PoolView]:
    with uow_factory() as uow:
        found = uow.session.execute(select(Pool).where(Pool.manager_id == manager_id)).scalars()
        return [pools.PoolView.of(pool) for pool in found]


def run_op(make: Any, actor: Any, pool_id: int, kind: str, payload: dict[str, Any]) -> None:
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    assert operations.process(str(status.id), make.uow_factory) == "done"


# --- create / edit pool ------------------------------------------------------------------------------

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
INVALID = [
    ({"name": ""}, "Name: is required"),
    ({"name": "<script>x</script>"}, "Name: must not contain < or >"),
    ({"target_size": "five million"}, "Target size: is not a number"),
    ({"target_size": "-1"}, "Target size: must be greater than zero"),
    ({"target_size": "100.001"}, "Target size: has more than 2 decimal places"),
    ({"hard_cap": "4000000"}, "Hard cap: must not be below the target size"),
    ({"min_ticket": "2000000"}, "Minimum ticket: must not be above the max ticket"),
    ({"max_ticket": "8000000"}, "Maximum ticket: must not be above the hard cap"),
    ({"management_fee_rate": "15"}, "Management fee %: must be at most 10%"),
    (
        {"management_fee_step_down_rate": "3"},
        "Fee after the investment period % (optional): must not be above",
    ),
    ({"carry_rate": "-5"}, "Carry %: must not be negative"),
    ({"hurdle_rate": "abc"}, "Hurdle %: is not a number"),
    ({"catch_up_rate": "120"}, "GP catch-up %: must be at most 1"),
]


def fill(at: Any, scope: str, values: dict[str, str]) -> None:
    for field, value in values.items():
        at.text_input(key=f"{scope}-{field}").input(value)


def test_create_a_pool_through_the_form_refusing_each_bad_input(make: Any, uow_factory: Any) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    assert "Create a pool" in [t.value for t in at.title]
    for bad, expected in INVALID:
        fill(at, "pool-new", {**VALID, **bad})
        at = button(at, "Save draft").click().run()
        assert not at.exception, at.exception
        assert any(expected in e for e in errors(at)), (bad, errors(at))
        assert not successes(at)
        assert pools_of(uow_factory, boss.user_id) == [], f"{bad} wrote a pool"
    # A date refused by the domain (the investment period must not end before the close).
    fill(at, "pool-new", VALID)
    at.date_input(key="pool-new-investment_period_end").set_value(date.today() + timedelta(days=30))
    at = button(at, "Save draft").click().run()
    assert any(
        "Investment period ends (optional): must not be before the close date" in e for e in errors(at)
    )
    assert pools_of(uow_factory, boss.user_id) == []

    period_end = date.today() + timedelta(days=900)
    at.date_input(key="pool-new-investment_period_end").set_value(period_end)
    at.selectbox(key="pool-new-strategy").set_value("growth")
    # The fee: 2% of what is invested, stepping down to 1.5% after the investment period.
    assert at.selectbox(key="pool-new-management_fee_basis").value != "invested"  # not the default
    at.selectbox(key="pool-new-management_fee_basis").set_value("invested")
    at.text_input(key="pool-new-management_fee_step_down_rate").input("1.5")
    at = button(at, "Save draft").click().run()
    assert not errors(at), errors(at)
    assert any("Draft saved" in s for s in successes(at))
    [saved] = pools_of(uow_factory, boss.user_id)
    assert (saved.name, saved.status, saved.strategy) == ("Orbit Ventures I", "draft", "growth")
    assert (saved.target_size, saved.carry_rate, saved.management_fee_rate) == (
        Decimal("5000000"),
        Decimal("0.2"),
        Decimal("0.02"),
    )
    assert (
        saved.management_fee_basis,
        saved.management_fee_step_down_rate,
        saved.investment_period_end,
    ) == ("invested", Decimal("0.015"), period_end)
    assert f"Edit {saved.name}" in [t.value for t in at.title]
    # The draft's form shows the stored fee terms back, as percentages.
    assert at.selectbox(key=f"pool-{saved.id}-management_fee_basis").value == "invested"
    assert at.text_input(key=f"pool-{saved.id}-management_fee_step_down_rate").value == "1.5"

    # Edit the draft, then open it: the terms freeze except the close date.
    fill(at, f"pool-{saved.id}", {"name": "Orbit Ventures I (final)"})
    at = button(at, "Save draft").click().run()
    assert pools_of(uow_factory, boss.user_id)[0].name == "Orbit Ventures I (final)"
    at = button(at, "Open for commitments").click().run()
    assert any("open for commitments" in s for s in successes(at)), successes(at)
    assert pools_of(uow_factory, boss.user_id)[0].status == "open"
    assert at.text_input(key=f"pool-{saved.id}-name").disabled
    version = pools_of(uow_factory, boss.user_id)[0].version
    later = date.today() + timedelta(days=200)
    at.date_input(key=f"pool-{saved.id}-close_date").set_value(later)
    at = button(at, "Save close date").click().run()
    assert "Close date saved." in successes(at)
    [moved] = pools_of(uow_factory, boss.user_id)
    assert moved.close_date == later
    assert moved.version == version + 1  # live views of the pool see the new date


# --- commitments -------------------------------------------------------------------------------------


def test_accept_scale_down_and_reject_commitments_then_close(make: Any, uow_factory: Any) -> None:
    pool_id, boss = make.pool()
    full, _ = make.commitment(pool_id, amount="100000")
    scaled, _ = make.commitment(pool_id, amount="200000")
    refused, _ = make.commitment(pool_id, amount="50000")
    at = goto(logged_in(boss.username), COMMITMENTS, manager_pool_id=pool_id)
    assert "Pending (3)" in page_text(at)

    at = button(at, "Accept").click().run()  # the first card: accepted in full
    assert any("Accepted 100,000.00 USD" in s for s in successes(at)), successes(at)
    at.text_input(key=f"amt-{scaled}").input("250000")  # above what was asked: refused, nothing written
    at = at.button(key=f"accept-{scaled}").click().run()
    assert any("amount: cannot be above what the investor asked for" in e for e in errors(at))
    at.text_input(key=f"amt-{scaled}").input("150000")
    at = at.button(key=f"accept-{scaled}").click().run()
    assert any("scaled down from 200,000.00 USD" in s for s in successes(at)), successes(at)
    at = at.button(key=f"reject-{refused}").click().run()
    assert any("Rejected" in s for s in successes(at))
    with uow_factory() as uow:
        rows = dict(
            uow.session.execute(
                select(Commitment.id, Commitment.amount_accepted).where(Commitment.pool_id == pool_id)
            ).all()
        )
        status = dict(
            uow.session.execute(
                select(Commitment.id, Commitment.status).where(Commitment.pool_id == pool_id)
            ).all()
        )
    assert rows[full] == Decimal("100000") and rows[scaled] == Decimal("150000") and rows[refused] is None
    assert status[refused] == "rejected"
    assert "Pending (0)" in page_text(at)

    at = button(at, "Close the pool to new commitments").click().run()
    assert any("closed" in s for s in successes(at))
    with uow_factory() as uow:
        assert pools.load_pool(uow, pool_id).status == "closed"


def test_scale_all_down_to_fit_the_hard_cap_with_a_real_worker(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    pool_id, boss = make.pool(
        target_size="1000000", hard_cap="1000000", min_ticket="10000", max_ticket="600000"
    )
    asked = {make.commitment(pool_id, amount=a)[0]: Decimal(a) for a in ("500000", "400000", "300000.01")}
    make.commitment(pool_id, amount="100000", accept_as=boss)
    at = goto(logged_in(boss.username), COMMITMENTS, manager_pool_id=pool_id)
    at = button(at, "Preview scale-down").click().run()
    expected = scale_down(asked, Decimal("900000"), Decimal("10000"), Decimal("0.01"))
    assert "to accept 900,000.00 USD" in page_text(at)
    with uow_factory() as uow:  # previewing wrote nothing
        assert (
            uow.session.execute(
                select(func.count())
                .select_from(Commitment)
                .where(Commitment.pool_id == pool_id, Commitment.status == "pending")
            ).scalar_one()
            == 3
        )
    at = button(at, "Confirm and accept these amounts").click().run()
    assert not errors(at), errors(at)
    at = rerun_until(
        at, lambda a: "The scaled-down commitments are accepted." in successes(a), what="the settlement"
    )
    with uow_factory() as uow:
        accepted = dict(
            uow.session.execute(
                select(Commitment.id, Commitment.amount_accepted).where(Commitment.id.in_(list(asked)))
            ).all()
        )
    assert accepted == expected
    assert sum(expected.values()) == Decimal("900000")


# --- capital calls -----------------------------------------------------------------------------------


def closed_pool(
    make: Any, amounts: tuple[str, ...] = ("100000", "200000", "300000.33")
) -> tuple[int, Any, list]:
    pool_id, boss = make.pool(hard_cap="2000000")
    investors = [make.commitment(pool_id, amount=a, accept_as=boss)[1] for a in amounts]
    with make.uow_factory() as uow:
        pools.close_pool(boss, uow, pool_id)
    return pool_id, boss, investors


def test_issue_a_capital_call_and_see_it_reach_done_with_a_real_worker(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    pool_id, boss, investors = closed_pool(make)
    at = goto(logged_in(boss.username), CALLS, manager_pool_id=pool_id)
    # A bad percentage is refused with the field named, and nothing is written.
    at.text_input(key="call-value").input("a lot")
    at.text_input(key="call-purpose").input("Series A")
    at = button(at, "Preview the call").click().run()
    assert any("percent: is not a number" in e for e in errors(at)), errors(at)

    at.text_input(key="call-value").input("33.33")
    at = button(at, "Preview the call").click().run()
    assert not errors(at), errors(at)
    preview = at.session_state["_call_preview"]
    assert preview.total == Decimal("199980.11")
    assert sum(line.amount for line in preview.lines) == preview.total
    assert "199,980.11 USD" in page_text(at)
    with uow_factory() as uow:
        assert not uow.session.execute(select(CapitalCall.id).where(CapitalCall.pool_id == pool_id)).first()

    at = button(at, "Issue this call").click().run()
    assert not errors(at), errors(at)
    at = rerun_until(
        at, lambda a: "The capital call is posted to every investor." in successes(a), what="the call to post"
    )
    with uow_factory() as uow:
        [(call_id, call_status, call_amount)] = uow.session.execute(
            select(CapitalCall.id, CapitalCall.status, CapitalCall.amount).where(
                CapitalCall.pool_id == pool_id
            )
        ).all()
        items = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.amount_due).where(CallItem.call_id == call_id)
            ).all()
        )
        item_ids = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.id).where(CallItem.call_id == call_id)
            ).all()
        )
    assert call_status == "issued" and call_amount == preview.total
    assert items == {line.investor_id: line.amount for line in preview.lines}
    [called] = [m for m in at.metric if m.label == "Called (USD)"]
    assert (called.value, called.help) == ("199.98K", "199,980.11 USD")

    # Record a payment for one investor, in part, and see it reach done too.
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert [b.label for b in at.get("download_button")] == [
        "Download the call notice (CSV, one row per investor)"
    ]
    target = next(line for line in preview.lines if line.investor_id == investors[1].user_id)
    chooser = at.selectbox(key="pay-item")
    assert any(investors[1].username in option for option in chooser.options)
    chooser.set_value(item_ids[investors[1].user_id])  # the options are call item ids
    at.text_input(key="pay-amount").input("1000.50")
    at.text_input(key="pay-reference").input("WIRE-77")
    at = button(at, "Record the payment").click().run()
    assert not errors(at), errors(at)
    at = rerun_until(at, lambda a: "Payment recorded." in successes(a), what="the payment to post")
    with uow_factory() as uow:
        paid = positions.investor_positions(uow.session, pool_id)[target.investor_id].paid_in
    assert paid == Decimal("1000.50")

    # The call notice: what the download button hands the browser when clicked, one row per investor.
    with deferred_downloads() as downloads:
        at.run()
    [notice] = at.get("download_button")
    assert notice.proto.deferred_file_id in downloads, "the CSV is made on click, by the page's callable"
    data = downloads[notice.proto.deferred_file_id]()
    rows = {
        int(row["investor_id"]): row
        for row in csv.DictReader(io.StringIO(data if isinstance(data, str) else data.decode()))
    }
    assert {i: Decimal(row["amount_due"]) for i, row in rows.items()} == items
    row = rows[investors[1].user_id]
    assert (row["call_id"], row["purpose"], row["currency"]) == (str(call_id), "Series A", "USD")
    assert (row["investor_name"], row["status"]) == (f"Test {investors[1].username}", "partially_paid")
    assert (Decimal(row["amount_due"]), Decimal(row["amount_paid"]), Decimal(row["outstanding"])) == (
        target.amount,
        Decimal("1000.50"),
        target.amount - Decimal("1000.50"),
    )
    assert Decimal(row["commitment"]) == Decimal("200000")


# --- distributions -----------------------------------------------------------------------------------


def test_preview_and_confirm_a_distribution_summing_exactly_to_the_proceeds(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    pool_id, boss, _ = closed_pool(make)
    # Capital paid in 400 days ago: a preferred return has accrued, so every tier of the waterfall is reached.
    called_on = date.today() - timedelta(days=400)
    run_op(
        make,
        boss,
        pool_id,
        "capital_call",
        {
            "percent": "50",
            "purpose": "invest",
            "call_date": called_on.isoformat(),
            "due_date": (called_on + timedelta(days=10)).isoformat(),
        },
    )
    with uow_factory() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.amount_due).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).all()
    for item_id, amount in items:
        payment = {"call_item_id": item_id, "amount": str(amount), "reference": "W"}
        run_op(make, boss, pool_id, "payment", {**payment, "paid_on": called_on.isoformat()})
    run_op(make, boss, pool_id, "investment", {"action": "buy", "company": "Acme", "amount": "250000"})
    run_op(
        make,
        boss,
        pool_id,
        "investment",
        {"action": "exit", "company": "Acme", "amount": "410000.17", "cost": "250000"},
    )
    proceeds = Decimal("400000.01")

    at = goto(logged_in(boss.username), DISTRIBUTIONS, manager_pool_id=pool_id)
    at.text_input(key="dist-proceeds").input("99999999")
    at = button(at, "Preview the waterfall").click().run()
    assert any(e.startswith("proceeds:") and "more than the pool's cash" in e for e in errors(at)), errors(at)

    at.text_input(key="dist-proceeds").input(str(proceeds))
    at.text_input(key="dist-memo").input("Acme exit")
    at = button(at, "Preview the waterfall").click().run()
    assert not errors(at), errors(at)
    preview = at.session_state["_distribution_preview"]
    assert sum(line.share for line in preview.lines) == proceeds
    assert sum(line.lp + line.gp for line in preview.lines) == proceeds
    assert sum(t.total for t in preview.tiers) == proceeds
    assert {m.label for m in at.metric} >= {"To investors (USD)", "Carried interest (USD)"}
    # The waterfall chart: each tier a step (the profit split as its LP and GP parts), then the total.
    [chart] = at.get("plotly_chart")
    [trace] = json.loads(chart.proto.spec)["data"]
    assert trace["type"] == "waterfall"
    tiers = {t.tier: t for t in preview.tiers}
    steps = [
        ("Return of capital", tiers["return_of_capital"].total),
        ("Preferred return", tiers["preferred_return"].total),
        ("GP catch-up", tiers["catch_up"].total),
        ("Profit split to LPs", tiers["split"].lp),
        ("Carry to GP", tiers["split"].gp),
        ("Proceeds", proceeds),
    ]
    assert trace["x"] == [label for label, _ in steps]
    assert trace["measure"] == ["relative"] * 5 + ["total"]
    assert trace["y"] == [float(amount) for _, amount in steps]  # float-ok: plotly's coordinates
    assert trace["text"] == [money(amount, "USD") for _, amount in steps]
    assert all(amount > 0 for _, amount in steps), steps  # every tier is reached: none drawn as zero
    assert sum(amount for _, amount in steps[:-1]) == proceeds
    with uow_factory() as uow:
        before = positions.investor_positions(uow.session, pool_id)

    at = button(at, "Confirm the distribution").click().run()
    assert not errors(at), errors(at)
    at = rerun_until(
        at, lambda a: "The distribution is posted to every investor." in successes(a), what="the distribution"
    )
    with uow_factory() as uow:
        after = positions.investor_positions(uow.session, pool_id)
    got = {i: (after[i].distributed - before[i].distributed, after[i].carry - before[i].carry) for i in after}
    assert got == {line.investor_id: (line.lp, line.gp) for line in preview.lines}
    assert sum(lp + gp for lp, gp in got.values()) == proceeds
    assert "Acme exit" in [str(v) for v in at.dataframe[-1].value["Memo"]]


# --- my pools, portfolio, dashboard ------------------------------------------------------------------


def nav_chart(at: Any) -> dict[str, dict[str, Any]]:
    """The portfolio page's NAV history chart: its traces by name."""
    [chart] = at.get("plotly_chart")
    return {trace["name"]: trace for trace in json.loads(chart.proto.spec)["data"]}


def test_record_a_valuation_through_the_form_and_see_it_on_the_nav_history(
    make: Any, uow_factory: Any, worker: Any
) -> None:
    pool_id, boss, _ = closed_pool(make)
    month_ago = (date.today() - timedelta(days=30)).isoformat()
    due = (date.today() + timedelta(days=10)).isoformat()
    run_op(
        make,
        boss,
        pool_id,
        "capital_call",
        {"percent": "50", "purpose": "invest", "call_date": month_ago, "due_date": due},
    )
    with uow_factory() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.amount_due).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).all()
    for item_id, amount in items:
        payment = {"call_item_id": item_id, "amount": str(amount), "reference": "W", "paid_on": month_ago}
        run_op(make, boss, pool_id, "payment", payment)
    buy = {"action": "buy", "company": "Acme", "amount": "250000", "date": month_ago}
    run_op(make, boss, pool_id, "investment", buy)
    paid_in = Decimal("300000.17")  # half of 600,000.33, to the cent

    at = goto(logged_in(boss.username), PORTFOLIO, manager_pool_id=pool_id)
    assert "No valuation yet." in page_text(at)
    traces = nav_chart(at)
    assert "Marks" not in traces
    assert traces["NAV"]["y"][-1] == float(paid_in)  # float-ok: plotly's coordinates

    at.text_input(key="val-value").input("400000")
    at.text_input(key="val-note").input("Series B up-round")
    at = button(at, "Record the valuation").click().run()
    assert not errors(at), errors(at)
    at = rerun_until(at, lambda a: "Valuation recorded." in successes(a), what="the valuation")
    today = date.today().isoformat()
    traces = nav_chart(at)
    nav = traces["NAV"]
    assert (str(nav["x"][-1])[:10], nav["y"][-1]) == (today, float(paid_in + 150000))  # float-ok
    assert nav["y"][-2] == float(paid_in)  # float-ok: the NAV before the mark
    marks = traces["Marks"]
    assert [str(x)[:10] for x in marks["x"]] == [today]
    assert (marks["y"], marks["text"]) == ([400000.0], ["Series B up-round"])
    with uow_factory() as uow:
        view = manager.portfolio(boss, uow, pool_id)
    assert (view.portfolio_value, view.nav) == (Decimal("400000"), paid_in + 150000)
    assert [m.help for m in at.metric if m.label == "NAV (USD)"] == [money(paid_in + 150000, "USD")]


def test_my_pools_progress_is_live_without_a_page_run(
    make: Any, uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = make.user("fund_manager")
    open_id, _ = make.pool(boss, name="Live Fund")
    closed_id, _, _ = closed_pool(make)
    with uow_factory() as uow:  # hand the closed pool to the same manager for this page
        uow.session.get(Pool, closed_id).manager_id = boss.user_id
        uow.commit()
    make.commitment(open_id, amount="120000", accept_as=boss)
    reads: list[int] = []
    my_pools = manager.my_pools

    def counted(*args: Any) -> Any:
        reads.append(1)
        return my_pools(*args)

    monkeypatch.setattr(manager, "my_pools", counted)
    at = logged_in(boss.username)
    live = run_recording_live_fragments(at)
    assert "My pools" in [t.value for t in at.title]
    assert len(live) == 1 and 0 < next(iter(live.values())) <= 5, live  # one live part, every few seconds
    text = page_text(at)
    assert "Live Fund" in [s.value for s in at.subheader]
    assert "committed 120,000.00 USD of target 1,000,000.00 USD (hard cap 1,500,000.00 USD)" in text
    assert "pending 0.00 USD" in text
    assert {m.label for m in at.metric} >= {"Called (USD)", "Paid-in (USD)", "NAV (USD)", "Net IRR", "TVPI"}

    # Nothing changed: the timer's rerun polls the versions and reads no pool.
    reads.clear()
    at = tick_fragments(at, list(live))
    assert reads == [] and "pending 0.00 USD" in page_text(at)
    # Another investor commits: the next tick of the fragment alone shows it; the page itself
    # did not run (its title, drawn outside the fragment, is not among this run's elements).
    make.commitment(open_id, amount="30000")
    at = tick_fragments(at, list(live))
    assert "My pools" not in [t.value for t in at.title]
    assert "pending 30,000.00 USD" in page_text(at), page_text(at)
    assert reads == [1]
    # Moving the open pool's close date shows the same way (the move bumps the pool's version).
    later = date.today() + timedelta(days=123)
    with uow_factory() as uow:
        current = {f: getattr(pools.get_pool(boss, uow, open_id), f) for f in pools.TERM_FIELDS}
        pools.update_pool_terms(boss, uow, open_id, {**current, "close_date": later})
    at = tick_fragments(at, list(live))
    assert f"closes {later:%d %b %Y}" in page_text(at), page_text(at)

    at.run()  # and the page's next full run is the whole page again
    assert "My pools" in [t.value for t in at.title]


def test_the_other_pool_pages_render(make: Any, uow_factory: Any) -> None:
    boss = make.user("fund_manager")
    closed_id, _, _ = closed_pool(make)
    with uow_factory() as uow:
        uow.session.get(Pool, closed_id).manager_id = boss.user_id
        uow.commit()
    at = logged_in(boss.username)
    due = (date.today() + timedelta(days=10)).isoformat()
    run_op(make, boss, closed_id, "capital_call", {"percent": "50", "purpose": "invest", "due_date": due})
    for page in ("pages/manager_portfolio.py", "pages/manager_dashboard.py", CALLS, DISTRIBUTIONS):
        at = goto(at, page, manager_pool_id=closed_id)
        assert not errors(at), (page, errors(at))
    at = goto(at, "pages/manager_dashboard.py", manager_pool_id=closed_id)
    with uow_factory() as uow:
        expected = manager.dashboard(boss, uow, closed_id)
    assert [m.help for m in at.metric if m.label == "Called (USD)"] == [money(expected.called, "USD")]
    assert len(at.get("plotly_chart")) == 3
