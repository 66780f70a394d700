"""Corrections on the manager's pages (AppTest from Home.py, a real worker): each reversible kind
(payment, fee, valuation, investment, exit, distribution) reversed with a reason through the
Corrections page, after the manager confirmed what it will do. Afterwards the manager's books,
call book, portfolio, dashboard and My pools show the figures an independent sum of the journal
entries gives, and the fact is back in its earlier state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import bcrypt
import pytest

from app import format
from core import clock
from core.services import users
from tests.app.manager_support import (
    CORRECTIONS,
    Fund,
    confirm,
    errors,
    goto,
    journal_figures,
    logged_in,
    metrics,
    real_worker,
    rerun_until,
    successes,
    with_corrections_page,
)

D = Decimal
REASON = "Keyed against the wrong line"


@pytest.fixture(autouse=True)
def setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )
    with_corrections_page(monkeypatch)


@pytest.fixture
def worker() -> Any:
    with real_worker() as proc:
        yield proc


class History(Fund):
    """Called (50%) and paid, three companies bought (one exited after marks), a fee, a distribution."""

    def __init__(self, make: Any) -> None:
        super().__init__(make, age=400)
        self.call("50", self.day(10))
        self.paid = {item.investor_id: self.pay(item, self.day(15)) for item in self.items(1)}
        self.bought = {c: self.invest(self.day(20), c, a) for c, a in (("Acme", "100000"), ("Beta", "50000"))}
        self.bought["Cobalt"] = self.invest(self.day(21), "Cobalt", "60000")
        self.marked = self.mark(self.day(100), "Acme", "160000", "Series B")
        self.mark(self.day(101), "Cobalt", "90000", "Series A")
        self.exited = self.exit(self.day(200), "Cobalt", "150000")
        self.charged = self.fee(self.day(1), self.day(300))
        self.distributed = self.distribute(self.day(320), "100000", "First proceeds")


@pytest.fixture
def history(make: Any) -> History:
    return History(make)


def reverse(history: History, operation_id: Any) -> Any:
    """Reverse one posting on the Corrections page as the manager does; the page after it."""
    at = goto(logged_in(history.manager.username), CORRECTIONS, manager_pool_id=history.pool_id)
    [posting] = [s for s in at.selectbox if s.label == "Posting"]
    assert posting.value is None
    posting.set_value(operation_id).run()
    [reason] = [t for t in at.text_input if t.label == "Reason"]
    reason.input(REASON).run()
    asked = confirm(at, "correction")
    assert asked.startswith("Reverse this posting:") and "cannot itself be undone" in asked, asked
    at = rerun_until(at, lambda a: any(s.startswith("Reversed:") for s in successes(a)), what="the reversal")
    assert not errors(at), errors(at)
    # The reversal is listed with its reason; the posting is no longer offered.
    reversed_rows = at.dataframe[-1].value
    assert REASON in list(reversed_rows["Reason"])
    [after] = [s for s in at.selectbox if s.label == "Posting"]
    assert len(after.options) == len(posting.options) - 1 and after.value is None
    return at


def money(amount: D) -> str:
    return format.money(amount, "USD")


def surfaces_agree(at: Any, history: History) -> dict[str, D]:
    """The manager's surfaces against the journal entries summed by hand, as of today."""
    fig = journal_figures(history.uow, history.pool_id, as_of=clock.today())
    assert fig["nav"] == fig["cash"] + fig["portfolio_value"] - fig["fees_payable"]
    at = goto(at, "pages/manager_portfolio.py", manager_pool_id=history.pool_id)
    shown = metrics(at)
    assert shown["Cash"] == money(fig["cash"])
    assert shown["Invested (cost)"] == money(fig["investments"])
    assert shown["Unrealized"] == money(fig["unrealized"])
    assert shown["Portfolio value"] == money(fig["portfolio_value"])
    assert shown["Realized"] == money(fig["realized_gain"])
    assert shown["NAV"] == money(fig["nav"])
    holdings = at.dataframe[0].value
    assert sum(holdings["Value"], D(0)) == fig["portfolio_value"]
    at = goto(at, "pages/manager_calls.py", manager_pool_id=history.pool_id)
    shown = metrics(at)
    assert (shown["Called"], shown["Paid-in"], shown["Outstanding"]) == (
        money(fig["called"]),
        money(fig["contributions"]),
        money(fig["outstanding"]),
    )
    at = goto(at, "pages/manager_dashboard.py", manager_pool_id=history.pool_id)
    shown = metrics(at)
    for label, key in (
        ("Committed", "commitment"),
        ("Called", "called"),
        ("Paid-in", "contributions"),
        ("Outstanding", "outstanding"),
        ("Unfunded", "unfunded"),
        ("NAV", "nav"),
        ("Distributed", "distributions"),
        ("Management fees", "management_fees"),
    ):
        assert shown[label] == money(fig[key]), label
    at = goto(at, "pages/manager_pools.py")
    shown = metrics(at)  # the manager runs this one pool
    assert (shown["Called"], shown["Paid-in"], shown["NAV"]) == (
        money(fig["called"]),
        money(fig["contributions"]),
        money(fig["nav"]),
    )
    return fig


def test_reversing_a_payment_reopens_the_item_on_every_surface(history: History, worker: Any) -> None:
    payer = history.investors[0]
    before = journal_figures(history.uow, history.pool_id)
    at = reverse(history, history.paid[payer.user_id].id)
    fig = surfaces_agree(at, history)
    assert fig["contributions"] == before["contributions"] - D("50000")
    assert fig["outstanding"] == D("50000")
    at = goto(at, "pages/manager_calls.py", manager_pool_id=history.pool_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert list(at.dataframe[0].value["Status"]) == ["Partially paid · overdue"]
    items = at.dataframe[1].value
    assert dict(zip(items["Investor"], items["Status"], strict=True))[f"Test {payer.username}"] == "Overdue"
    received = at.dataframe[2].value
    assert any(REASON in cell for cell in received["Reversed"])
    # The item owes again: the payment form offers it, prefilled with what is outstanding.
    [box] = [s for s in at.selectbox if s.label == "Investor"]
    assert [o for o in box.options if payer.username in o]
    assert [p for p in history.payments() if p[0] == payer.user_id][0][3] == clock.today()


def test_reversing_a_management_fee(history: History, worker: Any) -> None:
    before = journal_figures(history.uow, history.pool_id)
    assert before["management_fees"] > 0
    at = reverse(history, history.charged.id)
    fig = surfaces_agree(at, history)
    assert fig["management_fees"] == 0 and fig["fees_payable"] == 0
    assert fig["nav"] == before["nav"] + before["management_fees"]


def test_reversing_a_valuation_puts_the_holding_back_at_cost(history: History, worker: Any) -> None:
    at = reverse(history, history.marked.id)
    fig = surfaces_agree(at, history)
    at = goto(at, "pages/manager_portfolio.py", manager_pool_id=history.pool_id)
    holdings = at.dataframe[0].value.set_index("Company")
    assert holdings.loc["Acme", "Value"] == D("100000") and holdings.loc["Acme", "Unrealized"] == 0
    assert fig["unrealized"] == 0  # Beta was never marked, Cobalt's marks left with its exit


def test_reversing_an_investment_returns_its_cash(history: History, worker: Any) -> None:
    before = journal_figures(history.uow, history.pool_id)
    at = reverse(history, history.bought["Beta"].id)
    fig = surfaces_agree(at, history)
    assert fig["cash"] == before["cash"] + D("50000")
    at = goto(at, "pages/manager_portfolio.py", manager_pool_id=history.pool_id)
    assert "Beta" not in list(at.dataframe[0].value["Company"])


def test_reversing_an_exit_holds_the_company_again_at_its_mark(history: History, worker: Any) -> None:
    before = journal_figures(history.uow, history.pool_id)
    assert before["realized_gain"] == D("90000")
    at = reverse(history, history.exited.id)
    fig = surfaces_agree(at, history)
    assert fig["realized_gain"] == 0 and fig["cash"] == before["cash"] - D("150000")
    at = goto(at, "pages/manager_portfolio.py", manager_pool_id=history.pool_id)
    held = at.dataframe[0].value.set_index("Company")  # held now; Cobalt has left the exits
    assert held.loc["Cobalt", "Value"] == D("90000") and held.loc["Cobalt", "Cost"] == D("60000")
    assert "Exits" not in [s.value for s in at.subheader]


def test_reversing_a_distribution(history: History, worker: Any) -> None:
    before = journal_figures(history.uow, history.pool_id)
    at = reverse(history, history.distributed.id)
    fig = surfaces_agree(at, history)
    assert fig["distributions"] == 0 and fig["carried_interest"] == 0
    assert fig["cash"] == before["cash"] + D("100000")
    at = goto(at, "pages/manager_distributions.py", manager_pool_id=history.pool_id)
    [past] = [d.value for d in at.dataframe if "Memo" in d.value.columns]
    assert list(past["Memo"]) == ["First proceeds"]
    assert list(past["Reversed"]) == [f"{clock.today().isoformat()}: {REASON}"]


def test_a_blocked_correction_says_why(history: History) -> None:
    """Acme's purchase cannot be reversed while its mark stands: the page says what to reverse first."""
    at = goto(logged_in(history.manager.username), CORRECTIONS, manager_pool_id=history.pool_id)
    [posting] = [s for s in at.selectbox if s.label == "Posting"]
    posting.set_value(history.bought["Acme"].id).run()
    assert any("cannot be reversed yet" in i.value and "valuation" in i.value for i in at.info), [
        i.value for i in at.info
    ]
    [reason] = [t for t in at.text_input if t.label == "Reason"]
    reason.input(REASON).run()
    assert any("cannot be reversed yet" in e for e in errors(at)), errors(at)
    assert at.button(key="correction-ask").disabled
