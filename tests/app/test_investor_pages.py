"""The investor's pages through the real app (AppTest from Home.py) on the real database.

Read-only checks run on the demo data (core.seed.seed_demo, seeded once into this run's database)
and compare what the pages show with figures read from the ledger by hand here. Tests that write
(commit, pay) use investors of their own, so they do not disturb the demo investor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select, text
from streamlit.testing.v1 import AppTest

from core import investor_ui as ui
from core import operations, runtime
from core.fundmath import multiples, xirr
from core.services import pools, users
from db.models import CallItem, CapitalCall, Commitment, User
from tests.conftest import Factory

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 60
TODAY = date.today()


@pytest.fixture(scope="module", autouse=True)
def fast_bcrypt() -> Iterator[None]:
    """Real bcrypt at its lowest cost (the app runs in this process, so it verifies these hashes too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        yield


@pytest.fixture(scope="module")
def demo(fast_bcrypt: None) -> dict[str, int]:
    """The demo data, seeded once per test database (another module may have seeded it already)."""
    from core.seed import seed_demo

    with runtime.unit_of_work() as uow:
        found = dict(
            uow.session.execute(select(User.username, User.id).where(User.username == "investor")).all()
        )
    if not found:
        seed_demo(runtime.unit_of_work)
    with runtime.unit_of_work() as uow:
        ids = dict(uow.session.execute(select(User.username, User.id)).all())
        ids.update(
            {f"pool:{name}": pid for name, pid in uow.session.execute(text("SELECT name, id FROM pools"))}
        )
    return ids


@pytest.fixture(scope="module")
def make(fast_bcrypt: None) -> Factory:
    return Factory(runtime.unit_of_work)


def log_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at = at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame(at: AppTest, *columns: str) -> Any:
    """The first table on the page having these columns (st.dataframe keeps a key only when selectable)."""
    for element in at.dataframe:
        value = element.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def texts(at: AppTest) -> str:
    """Everything written on the page, for "is this message there" checks."""
    parts = [
        e.value
        for kind in ("error", "warning", "info", "success", "caption", "markdown")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def ledger(investor_id: int, *, since: date = date(1900, 1, 1), until: date = TODAY) -> dict[str, Any]:
    """The investor's figures read from the entries by hand, independently of the services."""
    with runtime.unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.kind, e.account, j.effective_date,
                          sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND j.effective_date BETWEEN :since AND :until
                    GROUP BY j.kind, e.account, j.effective_date"""
            ),
            {"i": investor_id, "since": since, "until": until},
        ).all()
    zero = Decimal(0)
    figures = {
        "committed": sum((v for k, a, _, v in rows if a == "commitment"), zero),
        "paid_in": sum((v for k, a, _, v in rows if (k, a) == ("payment", "capital")), zero),
        "distributed": -sum((v for k, a, _, v in rows if (k, a) == ("distribution", "capital")), zero),
        "fees": -sum((v for k, a, _, v in rows if (k, a) == ("management_fee", "capital")), zero),
        "nav": sum((v for k, a, _, v in rows if a == "capital"), zero),
        "outstanding": -sum((v for k, a, _, v in rows if a == "receivable"), zero),
    }
    figures["flows"] = sorted(
        (when, -v) for k, a, when, v in rows if a == "capital" and k in ("payment", "distribution")
    )
    return figures


# --- the demo investor -------------------------------------------------------------------------------


def test_portfolio_shows_the_ledgers_totals(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    assert [t.value for t in at.title] == ["Portfolio"]
    expected = ledger(demo["investor"])
    shown = metrics(at)
    assert shown["Committed"] == ui.money(expected["committed"], "USD") == "$650,000.00"
    assert shown["Paid-in"] == ui.money(expected["paid_in"], "USD")
    assert shown["Unfunded"] == ui.money(expected["committed"] - expected["paid_in"], "USD")
    assert shown["Distributed"] == ui.money(expected["distributed"], "USD")
    assert shown["NAV"] == ui.money(expected["nav"], "USD")
    assert shown["Total value"] == ui.money(expected["nav"] + expected["distributed"], "USD")
    assert shown["Outstanding calls"] == ui.money(expected["outstanding"], "USD") == "$150,000.00"
    ratios = multiples(expected["paid_in"], expected["distributed"], expected["nav"])
    assert shown["TVPI"] == ui.multiple(ratios.tvpi) and shown["DPI"] == ui.multiple(ratios.dpi)
    assert shown["RVPI"] == ui.multiple(ratios.rvpi)
    assert shown["IRR"] == ui.percent(xirr([*expected["flows"], (TODAY, expected["nav"])]))
    # One row per pool, numbers kept as numbers; a pool with nothing paid in shows "n/a", not 0%.
    table = at.dataframe[0].value.set_index("Pool")
    assert set(table.index) == {"Growth SPV 2024", "Climate Ventures II"}
    assert Decimal(str(table.loc["Growth SPV 2024", "Paid-in"])) == expected["paid_in"]
    assert Decimal(str(table.loc["Climate Ventures II", "Committed"])) == Decimal("150000")
    assert table.loc["Climate Ventures II", "IRR"] == "n/a"
    assert table.loc["Growth SPV 2024", "Status"] == "investing"
    assert at.get("plotly_chart"), "the J-curve is drawn"


def test_every_figure_follows_the_range(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.segmented_control(key=ui.RANGE_KEY).set_value("ytd").run()
    assert not at.exception, at.exception
    start = date(TODAY.year, 1, 1)
    before = ledger(demo["investor"], until=start - timedelta(days=1))
    during = ledger(demo["investor"], since=start)
    shown = metrics(at)
    assert shown["Paid-in"] == ui.money(during["paid_in"], "USD")
    assert shown["Distributed"] == ui.money(during["distributed"], "USD")
    assert shown["NAV at start"] == ui.money(before["nav"], "USD")
    assert shown["NAV"] == ui.money(ledger(demo["investor"])["nav"], "USD")
    flows = [(start, -before["nav"])] if before["nav"] else []
    flows += [*during["flows"], (TODAY, ledger(demo["investor"])["nav"])]
    assert shown["IRR"] == ui.percent(xirr(flows))
    # The range follows the investor to the next page.
    at.switch_page("pages/investor_pool_detail.py").run()
    assert at.segmented_control(key=ui.RANGE_KEY).value == "ytd"


def test_pool_detail_shows_the_capital_account_and_every_transaction(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.query_params["pool"] = str(demo["pool:Growth SPV 2024"])
    at.switch_page("pages/investor_pool_detail.py").run()
    assert not at.exception, at.exception
    assert "Growth SPV 2024" in [h.value for h in at.header]
    expected = ledger(demo["investor"])
    account = frame(at, "Line", "Amount").set_index("Line")["Amount"]
    assert Decimal(str(account["Ending NAV"])) == expected["nav"]
    assert Decimal(str(account["Contributions"])) == expected["paid_in"]
    assert Decimal(str(account["Ending unfunded commitment"])) == Decimal("300000")
    transactions = frame(at, "Journal", "Reference")
    paid = transactions[transactions["Type"] == "Contribution"]
    assert list(paid["Reference"].str.startswith("WIRE-")) == [True]
    assert set(transactions["Type"]) >= {
        "Commitment",
        "Capital call",
        "Contribution",
        "Management fee",
        "Valuation gain/(loss)",
        "Distribution",
    }
    calls = frame(at, "Call", "Due date")
    assert list(calls["Status"]) == ["paid", "open"]
    assert "No documents have been shared for this pool yet." in texts(at)


def test_capital_calls_statements_and_open_pools_render(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    shown = metrics(at)
    assert shown["Outstanding (USD)"] == "$150,000.00"
    assert shown["Paid-in to date (USD)"] == ui.money(ledger(demo["investor"])["paid_in"], "USD")
    open_items = frame(at, "Call", "Due in (days)")
    assert list(open_items["Call"]) == ["Call 2: follow-on and fees"]
    assert [b.label for b in at.button if b.label == "Record payment"]

    at.switch_page("pages/investor_statements.py").run()
    assert not at.exception, at.exception
    assert [d.label for d in at.get("download_button")] == [
        "Capital account statement (CSV)",
        "Transaction history (CSV)",
    ]
    account = frame(at, "Pool", "Line", "Amount")
    growth = account[account["Pool"] == "Growth SPV 2024"].set_index("Line")["Amount"]
    assert Decimal(str(growth["Ending NAV"])) == ledger(demo["investor"])["nav"]

    at.switch_page("pages/investor_open_pools.py").run()
    assert not at.exception, at.exception
    listed = frame(at, "Raised", "Room").set_index("Pool")
    assert "Seed Fund I" in listed.index and "Growth SPV 2024" not in listed.index
    assert listed.loc["Climate Ventures II", "You"] == "accepted"


# --- writing: investors of the tests' own -------------------------------------------------------------


@pytest.fixture(scope="module")
def nearly_full(make: Factory) -> int:
    """An open pool, tickets 10,000 to 500,000, with 300,000 left under its hard cap."""
    pool_id, manager = make.pool(
        name="Nearly Full Fund", hard_cap="1500000", min_ticket="10000", max_ticket="500000"
    )
    for amount in ("500000", "500000", "200000"):
        make.commitment(pool_id, amount=amount, accept_as=manager)
    return pool_id


def commitments_of(investor_id: int) -> int:
    with runtime.unit_of_work() as uow:
        return uow.session.execute(
            select(func.count()).select_from(Commitment).where(Commitment.investor_id == investor_id)
        ).scalar_one()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("5000", "amount: is below the minimum ticket of 10,000.00"),
        ("600000", "amount: is above the maximum ticket of 500,000.00"),
        ("400000", "amount: is above the remaining capacity of 300,000.00"),
        ("ten thousand", "amount: is not a number"),
        ("-20000", "amount: must be greater than zero"),
    ],
)
def test_the_commit_form_refuses_and_writes_nothing(
    make: Factory, nearly_full: int, amount: str, message: str
) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-pool").set_value(nearly_full).run()
    at.text_input(key="commit-amount").input(amount)
    at = next(b for b in at.button if b.label == "Commit").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [message]
    assert commitments_of(person.user_id) == 0
    assert not at.success


def test_commit_then_withdraw(make: Factory, nearly_full: int) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-pool").set_value(nearly_full).run()
    at.text_input(key="commit-amount").input("250,000")
    at = next(b for b in at.button if b.label == "Commit").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert "Commitment of $250,000.00 to Nearly Full Fund submitted" in at.success[0].value
    assert "**Nearly Full Fund**: $250,000.00 requested" in texts(at)
    assert commitments_of(person.user_id) == 1
    at = at.button(key=next(b.key for b in at.button if b.label == "Withdraw")).click().run()
    assert at.success[0].value == "Commitment withdrawn."
    assert "Nearly Full Fund" not in texts(at).split("My pending commitments")[-1]


def test_paying_a_call_shows_progress_then_the_new_paid_in(make: Factory) -> None:
    """Record payment submits a payment operation; once a worker posts it the page reruns by itself
    and every figure shows it (the worker is played here by operations.process in-process)."""
    pool_id, manager = make.pool(name="Calls Fund")
    _, person = make.commitment(pool_id, amount="100000", accept_as=manager)
    with runtime.unit_of_work() as uow:
        pools.close_pool(manager, uow, pool_id)
    with runtime.unit_of_work() as uow:
        status = operations.submit(
            manager,
            uow,
            pool_id,
            "capital_call",
            {
                "percent": "25",
                "purpose": "Late call",
                "call_date": (TODAY - timedelta(days=30)).isoformat(),
                "due_date": (TODAY - timedelta(days=10)).isoformat(),
            },
        )
    assert operations.process(str(status.id), runtime.unit_of_work) == "done"

    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_capital_calls.py").run()
    assert "1 call item(s) past their due date" in at.error[0].value
    assert list(frame(at, "Call", "Due in (days)")["Status"]) == ["overdue"]
    at.text_input(key="pay-amount").input("25000.00")
    at.text_input(key="pay-reference").input("WIRE-777")
    at = next(b for b in at.button if b.label == "Record payment").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "past their due date" not in e.value] == []
    following = at.session_state["_following"]["pay"]
    assert at.get("progress"), "the operation's progress is shown"

    assert operations.process(following, runtime.unit_of_work) == "done"
    at.run()  # the progress fragment sees it done and reruns the whole page once
    assert not at.exception, at.exception
    assert "Payment posted" in " ".join(s.value for s in at.success)
    assert metrics(at)["Paid-in to date (USD)"] == "$25,000.00"
    assert metrics(at)["Outstanding (USD)"] == "$0.00"
    with runtime.unit_of_work() as uow:
        status = uow.session.execute(
            select(CallItem.status).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    assert status == "paid"
    at.switch_page("pages/investor_portfolio.py").run()
    assert metrics(at)["Paid-in"] == "$25,000.00"


def test_an_investor_with_nothing_sees_an_empty_portfolio(make: Factory) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    assert "You have no investments yet" in texts(at)
    for page in (
        "investor_pool_detail",
        "investor_capital_calls",
        "investor_statements",
        "investor_open_pools",
    ):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
