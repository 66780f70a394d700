"""The carry statement on the manager's pool dashboard, through the real app (AppTest from Home.py).

Expected figures are worked out by hand from the money the test moved (no hurdle, no catch-up,
20% carry), not read from the view the page renders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import bcrypt
import pytest

from app import format
from core.services import users
from tests.app.manager_support import Fund, errors, goto, logged_in, metrics, page_text

D = Decimal
DASHBOARD = "pages/manager_dashboard.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def money(amount: D) -> str:
    return format.money(amount, "USD")


def helps(at: Any) -> dict[str, str]:
    return {m.label: m.proto.help for m in at.metric}


def test_the_dashboard_shows_the_carry_statement(make: Any) -> None:
    fund = Fund(make, age=400, hurdle_rate="0", catch_up_rate="0")
    at = goto(logged_in(fund.manager.username), DASHBOARD, manager_pool_id=fund.pool_id)
    shown, why = metrics(at), helps(at)
    # Nothing paid in: no profit to carry, nothing distributed to claw back.
    assert shown["Carry received"] == money(D(0)) and shown["Carry in escrow"] == money(D(0))
    for label in ("Accrued carried interest", "Carry due on the whole pool", "Clawback exposure"):
        assert shown[label] == format.NA, label
        assert why[label].startswith("n/a until"), label
    assert "carry 20.0%, hurdle 0.0% (compounded yearly), GP catch-up 0.0%, escrow 0.0%" in page_text(at)

    fund.call("50", fund.day(10))  # 50,000, 100,000 and 150,000
    fund.pay_call(1, fund.day(12))
    fund.invest(fund.day(20), "Acme", "200000")
    fund.mark(fund.day(200), "Acme", "320000")
    # NAV 100,000 cash + 320,000: each investor's share (70,000, 140,000, 210,000) is 40% over their
    # capital; 20% of each profit (20,000, 40,000, 60,000) accrues to the GP.
    accrued = D("0.2") * (D("20000") + D("40000") + D("60000"))
    at = goto(at, DASHBOARD, manager_pool_id=fund.pool_id)
    shown = metrics(at)
    assert shown["Accrued carried interest"] == shown["Carry due on the whole pool"] == money(accrued)
    assert shown["Carry received"] == money(D(0)) and shown["Clawback exposure"] == format.NA

    # 60,000 distributed: all of it returns capital, so no carry is paid and the accrual stays.
    fund.distribute(fund.day(300), "60000")
    at = goto(at, DASHBOARD, manager_pool_id=fund.pool_id)
    shown, why = metrics(at), helps(at)
    assert shown["Carry received"] == money(D(0)) and shown["Clawback exposure"] == money(D(0))
    assert shown["Accrued carried interest"] == money(accrued)
    assert "sold at its latest mark" in why["Accrued carried interest"]
    assert "net of escrow" in why["Clawback exposure"]
    assert not errors(at)

    # The first investor's pool page: their share as a memo (NAV 360,000 shared 60,000 to them:
    # 10,000 + 60,000 back on 50,000 paid in, 20% of 20,000), not a line of the capital account.
    mine = logged_in(fund.investors[0].username)
    mine.query_params["pool"] = str(fund.pool_id)
    mine.switch_page("pages/investor_pool_detail.py").run()
    assert not mine.exception, mine.exception
    memo = [c.value for c in mine.caption if "accrued incentive allocation" in c.value]
    assert len(memo) == 1 and money(D("4000")).replace("$", "\\$") in memo[0], memo
    assert memo[0].startswith("Memo, not in Ending NAV")
    account = next(f for f in mine.dataframe if "Line" in f.value.columns).value
    assert not any("incentive" in str(line).lower() for line in account["Line"])
