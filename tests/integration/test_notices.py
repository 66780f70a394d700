"""Notices from the ledger (issue 16), through the real services, PostgreSQL and a real SMTP server
on loopback; jobs run in-process as a worker runs them (tests/integration/test_mail.py runs them in
real workers, killed and restarted).

Every figure read back from a PDF (pypdf) is compared with the test's own recomputation from the
journal entries and with the investor's portal (core.views.investor) as of the notice's day.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from core import clock, operations
from core.errors import FieldErrors, PermissionDenied, Stale, ValidationError
from core.permissions import Actor
from core.services import calls, distributions, documents, fees, investments, notices, payments, pools
from core.views import investor as portal
from db.models import AuditLog, CallItem, CapitalCall, Document, Notice
from tests import approving
from tests.conftest import ROOT
from tests.mailserver import MailServer, mail_server, pdf_links, pdf_text

D = Decimal
TODAY = date.today()
START = TODAY - timedelta(days=400)
IBAN = "DE89 3704 0044 0532 0130 00"
HOSTILE = '=HYPERLINK("http://evil.example","x") [Pay here](https://evil.example) **now** &amp;'


# --- a fund with history, through the typed commands -------------------------------------------------


def done(uow_factory: Callable[[], Any], status: Any) -> None:
    outcome = operations.process(str(status.id), uow_factory)
    if outcome != "done":
        with uow_factory() as uow:
            failed = operations.operation_status(Actor.system(), uow, status.id)
        raise AssertionError(f"{status.kind}: {failed.error}")


class Fund:
    """A closed pool and its investors; requests are previewed, submitted and processed on their day."""

    def __init__(
        self, make: Any, amounts: tuple[str, ...] = ("100000", "200000", "300000"), **terms: Any
    ) -> None:
        self.make = make
        self.uow = make.uow_factory
        with clock.travel(START):
            self.pool_id, self.manager = make.pool(hard_cap="5000000", max_ticket="1000000", **terms)
            self.investors = [
                make.commitment(self.pool_id, amount=a, accept_as=self.manager)[1] for a in amounts
            ]
            with self.uow() as uow:
                pools.close_pool(self.manager, uow, self.pool_id)

    def act(
        self, on: date, preview: Callable[..., Any], submit: Callable[..., Any], request: dict[str, Any]
    ) -> Any:
        with clock.travel(on), self.uow() as uow:
            status = submit(self.manager, uow, preview(self.manager, uow, self.pool_id, request).command)
        with clock.travel(on):
            done(self.uow, status)
        return status

    def call(self, on: date, percent: str = "25", purpose: str = "Series A in Acme") -> int:
        self.act(on, calls.preview, calls.issue, {"percent": percent, "purpose": purpose})
        with self.uow() as uow:
            return uow.session.execute(
                select(func.max(CapitalCall.id)).where(CapitalCall.pool_id == self.pool_id)
            ).scalar_one()

    def items(self, call_id: int) -> list[Any]:
        with self.uow() as uow:
            found = list(
                uow.session.execute(
                    select(CallItem).where(CallItem.call_id == call_id).order_by(CallItem.id)
                ).scalars()
            )
            uow.session.expunge_all()  # kept as read, after the unit of work rolls back
            return found

    def pay_all(self, call_id: int, on: date) -> None:
        for item in self.items(call_id):
            self.act(
                on,
                payments.preview,
                payments.record,
                {
                    "call_item_id": item.id,
                    "amount": str(item.amount_due),
                    "reference": f"W-{item.id}",
                    "paid_on": on.isoformat(),
                    "item_version": item.version,
                },
            )

    def wire(self) -> None:
        with self.uow() as uow:
            version = pools.get_pool(self.manager, uow, self.pool_id).version
            notices.set_wire_instructions(
                self.manager,
                uow,
                self.pool_id,
                {
                    "bank_name": "Deutsche Bank",
                    "account_name": "Harbor Fund GmbH & Co. KG",
                    "account_number": IBAN,
                    "bank_code": "DEUTDEFF",
                },
                version=version,
            )


@pytest.fixture
def fund(make: Any) -> Fund:
    return Fund(make)


@pytest.fixture
def smtp(environment: Callable[..., None]) -> Iterator[MailServer]:
    """Mail on, to a real SMTP server on loopback; a failed send is tried once more, then failed."""
    with mail_server() as server:
        environment(**server.env(), MAIL_RETRY_SECONDS="0")
        yield server


def render_all(uow_factory: Callable[[], Any]) -> list[int]:
    """Render every pending notice, batch by batch, as jobs.notices.render_notices does."""
    ready: list[int] = []
    while True:
        with uow_factory() as uow:
            batch = notices.render_pending(uow)
            uow.commit()
        if not batch.count:
            return ready
        ready += batch.ready


@pytest.fixture(autouse=True)
def empty_outbox(uow_factory: Callable[[], Any]) -> None:
    """Notices that other test files left waiting are rendered first: each test counts its own."""
    render_all(uow_factory)


def send_all(uow_factory: Callable[[], Any], ids: list[int]) -> list[str]:
    """Send each notice as its job would, trying again at once after a failed try (as RQ's Retry
    does after the backoff, 0 s here) until it is sent or failed."""
    outcomes = []
    for notice_id in ids:
        while True:
            with uow_factory() as uow:
                try:
                    outcomes.append(notices.deliver(uow, notice_id))
                    break
                except notices.SendLater:
                    continue
    return outcomes


# --- the test's own arithmetic, straight from the entries ---------------------------------------------

_BY_HAND = {  # written here on purpose, apart from core.ledger: (journal kind, account, side that adds)
    "commitment": ("commitment", "commitment", "C"),
    "called": ("capital_call", "receivable", "D"),
    "contributions": ("payment", "capital", "C"),
    "distributions": ("distribution", "capital", "D"),
    "management_fees": ("management_fee", "capital", "D"),
    "realized_gain": ("exit", "capital", "C"),
    "unrealized_gain": ("valuation", "capital", "C"),
    "carried_interest": ("carry", "capital", "D"),
}


def by_hand(
    uow_factory: Callable[[], Any],
    pool_id: int,
    investor_id: int,
    *,
    upto: date,
    since: date | None = None,
    operation: Any = None,
) -> dict[str, D]:
    """Each line of one investor's capital account from the entries dated since..upto (of one
    operation's journals only, if named)."""
    with uow_factory() as uow:
        return {
            line: uow.session.execute(
                text(
                    """SELECT coalesce(sum(CASE e.side WHEN :side THEN e.amount ELSE -e.amount END), 0)
                         FROM entries e JOIN journals j ON j.id = e.journal_id
                        WHERE e.pool_id = :pool AND e.investor_id = :investor AND j.kind = :kind
                          AND e.account = :account AND j.effective_date <= :upto
                          AND j.effective_date >= coalesce(CAST(:since AS date), DATE '1900-01-01')
                          AND (CAST(:op AS uuid) IS NULL OR j.operation_id = CAST(:op AS uuid))"""
                ),
                {
                    "side": side,
                    "pool": pool_id,
                    "investor": investor_id,
                    "kind": kind,
                    "account": account,
                    "upto": upto,
                    "since": since,
                    "op": None if operation is None else str(operation),
                },
            ).scalar_one()
            for line, (kind, account, side) in _BY_HAND.items()
        }


def usd(amount: D) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def amounts(text_: str, label: str) -> list[D]:
    """The money figures on the line of a PDF's text that starts with this label."""
    for line in text_.splitlines():
        if line.startswith(label):
            return [
                D(sign + number.replace(",", ""))
                for sign, number in re.findall(r"(-?)[$€£]([0-9,]+\.[0-9]{2})", line[len(label) :])
            ]
    raise AssertionError(f"no line {label!r} in:\n{text_}")


def stored(uow_factory: Callable[[], Any], document_id: int) -> bytes:
    with uow_factory() as uow:
        return uow.session.execute(select(Document.content).where(Document.id == document_id)).scalar_one()


def notices_of(uow_factory: Callable[[], Any], **where: Any) -> list[Notice]:
    with uow_factory() as uow:
        query = select(Notice).order_by(Notice.id)
        for name, value in where.items():
            query = query.where(getattr(Notice, name) == value)
        found = list(uow.session.execute(query).scalars())
        uow.session.expunge_all()
        return found


# --- capital call notices -----------------------------------------------------------------------------


def test_a_call_sends_each_investor_one_email_with_their_notice_whose_figures_are_the_ledgers(
    fund: Fund, smtp: MailServer
) -> None:
    fund.wire()
    first_on, second_on = START + timedelta(days=10), START + timedelta(days=40)
    first = fund.call(first_on, "20")
    fund.pay_all(first, first_on + timedelta(days=5))
    second = fund.call(second_on, "30", purpose="Follow-on in Beacon")
    # The outbox: one notice per call item, written with the call (rendering and sending come later).
    written = notices_of(fund.uow, call_id=second)
    items = {i.investor_id: i for i in fund.items(second)}
    assert sorted(n.investor_id for n in written) == sorted(items)
    assert all(n.status == "pending" and n.amount == items[n.investor_id].amount_due for n in written)

    ready = render_all(fund.uow)
    assert len(ready) == 6  # both calls' notices
    assert send_all(fund.uow, ready) == ["sent"] * 6
    with fund.uow() as uow:
        pool = pools.get_pool(fund.manager, uow, fund.pool_id)
    for person in fund.investors:
        with fund.uow() as uow:
            email = uow.session.execute(
                text("SELECT email FROM users WHERE id = :i"), {"i": person.user_id}
            ).scalar()
        mails = smtp.to(email)
        assert len(mails) == 2, email  # one per call, no more
        second_mail = next(m for m in mails if "capital call 2" in m.message["Subject"])
        [(filename, content)] = second_mail.pdfs()
        assert filename.endswith(".pdf")
        shown = pdf_text(content)
        ledger = by_hand(fund.uow, fund.pool_id, person.user_id, upto=second_on)
        this_call = items[person.user_id].amount_due
        assert amounts(shown, "Total due") == [this_call]
        assert amounts(shown, "Investments") == [this_call]
        assert amounts(shown, "Management fees") == [D(0)]
        assert amounts(shown, "Commitment") == [ledger["commitment"]] * 2
        assert amounts(shown, "Capital called to date") == [ledger["called"] - this_call, ledger["called"]]
        assert amounts(shown, "Unfunded commitment") == [
            ledger["commitment"] - ledger["called"] + this_call,
            ledger["commitment"] - ledger["called"],
        ]
        # The portal as of the call date says the same, to the cent.
        with fund.uow() as uow:
            figures = portal.pool_detail(
                person, uow, fund.pool_id, portal.Period(portal.INCEPTION, second_on)
            ).figures
        assert (figures.committed, figures.called, figures.unfunded) == (
            ledger["commitment"],
            ledger["called"],
            ledger["commitment"] - ledger["called"],
        )
        reference = f"IP{fund.pool_id}-{person.user_id}-2"
        assert "DE89 3704 0044 0532 0130 00" in shown and "DEUTDEFF" in shown and reference in shown
        assert reference in second_mail.text()
        assert second_mail.message["Message-ID"].startswith("<notice-")
        assert pool.name in second_mail.message["Subject"]
    # Sent is final: a second job for the same notice finds it sent and sends nothing.
    assert send_all(fund.uow, ready) == ["sent"] * 6
    assert len(smtp.received) == 6


def test_a_render_job_gives_way_to_an_operation_waiting_for_the_worker(
    fund: Fund, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call's notices are rendered batch by batch; once an operation (a payment, the next call)
    waits on the operations queue, the render job queues itself again behind it after the batch in
    hand: with one worker, a 100,000-investor call's notices held the next call up for 20 s."""
    from core import bootstrap
    from jobs import notices as notice_jobs

    fund.call(START + timedelta(days=10))  # three notices waiting to be rendered
    operations_queue = bootstrap.queue()
    waiting = notices.notices_queue(operations_queue)
    operations_queue.empty()
    waiting.empty()
    real = notices.render_pending
    monkeypatch.setattr(notice_jobs.notices, "render_pending", lambda uow: real(uow, limit=2))
    payment = operations_queue.enqueue("core.clock.today")  # what a worker would take next
    try:
        assert notice_jobs.render_notices() == 2, "the batch in hand, then it gives way"
        assert waiting.count == 1, "and queues itself again, behind the operation"
    finally:
        payment.delete()
        waiting.empty()
    assert notice_jobs.render_notices() == 1, "with nothing waiting, it renders the rest"


def test_the_notice_is_written_only_when_the_call_is_issued_in_the_calls_transaction(
    make: Any, environment: Callable[..., None]
) -> None:
    environment(OPERATION_BATCH_SIZE=2)
    fund = Fund(make, amounts=("100000",) * 5)
    on = START + timedelta(days=10)
    with clock.travel(on), fund.uow() as uow:
        status = calls.issue(
            fund.manager,
            uow,
            calls.preview(fund.manager, uow, fund.pool_id, {"percent": "10", "purpose": "x"}).command,
        )
    # One batch (2 of 5 items posted and committed), then the worker stops: the call is not issued
    # yet, and no notice exists yet.

    class Stopped(Exception):
        pass

    def stop(_: Any) -> None:
        raise Stopped

    with clock.travel(on), pytest.raises(Stopped):
        operations.process(str(status.id), fund.uow, on_change=stop)
    with fund.uow() as uow:
        call = uow.session.execute(
            select(CapitalCall.id, CapitalCall.status).where(CapitalCall.operation_id == status.id)
        ).one()
        posted = uow.session.execute(
            text("SELECT count(*) FROM journals WHERE operation_id = :op"), {"op": status.id}
        ).scalar_one()
    assert (call.status, posted) == ("issuing", 1) and notices_of(fund.uow, call_id=call.id) == []
    with clock.travel(on):
        done(fund.uow, status)
    assert len(notices_of(fund.uow, call_id=call.id)) == 5
    # Processing the finished operation again writes nothing twice.
    assert operations.process(str(status.id), fund.uow) == "done"
    assert len(notices_of(fund.uow, call_id=call.id)) == 5


def test_a_fee_call_shows_the_management_fee_line_and_its_calculation_from_the_ledger(make: Any) -> None:
    fund = Fund(
        make, amounts=("100000", "300000"), management_fee_rate="0.02", management_fee_basis="committed"
    )
    first = fund.call(START + timedelta(days=5), "50")
    fund.pay_all(first, START + timedelta(days=6))
    period = (START + timedelta(days=10), START + timedelta(days=100))
    fund.act(
        period[1],
        fees.preview,
        fees.charge,
        {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()},
    )
    on = START + timedelta(days=110)
    call_id = fund.call(on, "1", purpose="Management fees Q2")
    render_all(fund.uow)
    for person in fund.investors:
        [notice] = notices_of(fund.uow, call_id=call_id, investor_id=person.user_id)
        shown = pdf_text(stored(fund.uow, notice.document_id))
        fee = by_hand(fund.uow, fund.pool_id, person.user_id, upto=on)["management_fees"]
        assert fee > 0
        assert amounts(shown, "Management fees") == [notice.amount]
        assert amounts(shown, "Investments") == [D(0)]
        assert "Management fee calculation" in shown and "2.00% a year of committed capital" in shown
        assert amounts(shown, "Fees charged to date") == [fee]
        assert f"{period[0].isoformat()} {period[1].isoformat()} {(period[1] - period[0]).days}" in shown


# --- distribution notices ------------------------------------------------------------------------------


def test_a_distribution_notice_splits_each_share_by_tier_and_equals_the_ledger(make: Any) -> None:
    fund = Fund(make, hurdle_rate="0.08", carry_rate="0.2", catch_up_rate="1")
    call_id = fund.call(START + timedelta(days=5), "50")
    fund.pay_all(call_id, START + timedelta(days=10))
    fund.act(
        START + timedelta(days=20),
        investments.preview_investment,
        investments.invest,
        {"company": "Acme", "amount": "250000"},
    )
    with fund.uow() as uow:
        acme = next(h.company_id for h in investments.holdings(uow, fund.pool_id))
    fund.act(
        START + timedelta(days=300),
        investments.preview_exit,
        investments.exit_holding,
        {"company_id": acme, "proceeds": "600000"},
    )
    on = START + timedelta(days=310)
    status = fund.act(
        on, distributions.preview, approving.distribute, {"proceeds": "500000", "memo": HOSTILE}
    )
    written = notices_of(fund.uow, operation_id=status.id)
    assert len(written) == 3
    render_all(fund.uow)
    carried = D(0)
    for person in fund.investors:
        [notice] = [n for n in written if n.investor_id == person.user_id]
        shown = pdf_text(stored(fund.uow, notices_of(fund.uow, id=notice.id)[0].document_id))
        mine = by_hand(fund.uow, fund.pool_id, person.user_id, upto=on, operation=status.id)
        total = by_hand(fund.uow, fund.pool_id, person.user_id, upto=on)
        tiers = {
            label: amounts(shown, label)
            for label in ("Return of capital", "Preferred return", "GP catch-up", "Profit split")
        }
        to_you, carry, share = amounts(shown, "Total")
        assert to_you == mine["distributions"] == notice.amount
        assert carry == mine["carried_interest"]
        assert share == to_you + carry
        assert sum(t[0] for t in tiers.values()) == to_you and sum(t[1] for t in tiers.values()) == carry
        assert all(t[0] + t[1] == t[2] for t in tiers.values())
        assert (
            tiers["Return of capital"][0] > 0 and tiers["Preferred return"][0] > 0
        )  # it went through the tiers
        assert amounts(shown, "Carried interest withheld:")[0] == carry
        assert amounts(shown, "Contributions to date") == [total["contributions"]]
        assert amounts(shown, "Distributions to date") == [total["distributions"]]
        assert (
            HOSTILE in " ".join(shown.split())
            and pdf_links(stored(fund.uow, notices_of(fund.uow, id=notice.id)[0].document_id)) == []
        )
        carried += carry
    assert carried > 0


# --- quarterly capital account statements ----------------------------------------------------------------


def test_quarterly_statements_equal_the_portals_statement_for_the_quarter_year_and_inception(
    make: Any,
) -> None:
    fund = Fund(make)
    quarter_start, quarter_end = notices.quarter_of(TODAY - timedelta(days=100))
    call_id = fund.call(quarter_start - timedelta(days=20), "40")
    fund.pay_all(call_id, quarter_start + timedelta(days=3))
    fund.act(
        quarter_start + timedelta(days=5),
        investments.preview_investment,
        investments.invest,
        {"company": "Acme", "amount": "200000"},
    )
    with fund.uow() as uow:
        acme = next(h.company_id for h in investments.holdings(uow, fund.pool_id))
    fund.act(
        quarter_start + timedelta(days=30),
        investments.preview_mark,
        investments.mark,
        {"company_id": acme, "value": "260000"},
    )
    with fund.uow() as uow, pytest.raises(ValidationError, match="last day of a quarter"):
        notices.issue_statements(fund.manager, uow, fund.pool_id, quarter_end - timedelta(days=1))
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.issue_statements(fund.make.user("fund_manager"), uow, fund.pool_id, quarter_end)
    with fund.uow() as uow:
        assert notices.issue_statements(fund.manager, uow, fund.pool_id, quarter_end) == 3
    with fund.uow() as uow:
        assert notices.issue_statements(fund.manager, uow, fund.pool_id, quarter_end) == 0  # not twice
    render_all(fund.uow)
    for person in fund.investors:
        [notice] = notices_of(fund.uow, kind="statement", investor_id=person.user_id)
        assert notice.status == "in_app"  # mail is off in this test: stored and shown in the app
        shown = pdf_text(stored(fund.uow, notice.document_id))
        columns = []
        for since in (quarter_start, date(quarter_end.year, 1, 1), portal.INCEPTION):
            with fund.uow() as uow:
                page = portal.statement(person, uow, portal.Period(since, quarter_end), fund.pool_id)
            columns.append(dict(page.pools[0].capital_account.lines()))
        for label in columns[0]:
            assert amounts(shown, label) == [column[label] for column in columns], label
        ledger = by_hand(fund.uow, fund.pool_id, person.user_id, upto=quarter_end)
        assert columns[2]["Ending NAV"] == ledger["contributions"] + ledger["unrealized_gain"]
        assert columns[0]["Change in unrealized gain/(loss)"] == ledger["unrealized_gain"] > 0


def test_a_reissued_statement_is_the_next_version_of_the_same_document_with_its_note(fund: Fund) -> None:
    _, quarter_end = notices.quarter_of(TODAY - timedelta(days=100))
    with fund.uow() as uow:
        notices.issue_statements(fund.manager, uow, fund.pool_id, quarter_end)
    render_all(fund.uow)
    original = notices_of(fund.uow, kind="statement", investor_id=fund.investors[0].user_id)[0]
    with fund.uow() as uow, pytest.raises(ValidationError, match="Note"):
        notices.reissue(fund.manager, uow, original.id, "")
    with fund.uow() as uow:
        again = notices.reissue(fund.manager, uow, original.id, "Corrected valuation of Acme")
    render_all(fund.uow)
    reissued = notices_of(fund.uow, id=again)[0]
    with fund.uow() as uow:
        history = documents.versions(fund.investors[0], uow, reissued.document_id)
    assert [(v.version, v.note) for v in history] == [(2, "Corrected valuation of Acme"), (1, "")]
    assert history[1].id == original.document_id
    assert "Reissued: Corrected valuation of Acme" in pdf_text(stored(fund.uow, reissued.document_id))


# --- reminders ----------------------------------------------------------------------------------------------


def test_reminders_come_before_the_due_date_and_while_overdue_once_each(fund: Fund) -> None:
    on = TODAY - timedelta(days=20)
    with clock.travel(on), fund.uow() as uow:
        command = calls.preview(
            fund.manager,
            uow,
            fund.pool_id,
            {"percent": "10", "purpose": "x", "due_date": (TODAY + timedelta(days=5)).isoformat()},
        ).command
        status = calls.issue(fund.manager, uow, command)
    with clock.travel(on):
        done(fund.uow, status)
    call_id = notices_of(fund.uow, kind="capital_call", pool_id=fund.pool_id)[0].call_id
    paid = fund.items(call_id)[0]
    fund.act(
        TODAY,
        payments.preview,
        payments.record,
        {
            "call_item_id": paid.id,
            "amount": str(paid.amount_due),
            "reference": "W1",
            "paid_on": TODAY.isoformat(),
            "item_version": paid.version,
        },
    )

    def remind(day: date) -> int:
        """Reminders written on that day for this call (the sweep covers every pool)."""
        before = len(notices_of(fund.uow, call_id=call_id))
        with fund.uow() as uow:
            notices.remind(uow, day)
            uow.commit()
        return len(notices_of(fund.uow, call_id=call_id)) - before

    assert remind(TODAY) == 2  # 5 days to go: the 7-day reminder, for the two unpaid items only
    assert remind(TODAY) == 0  # once
    assert remind(TODAY + timedelta(days=1)) == 0  # still within the same reminder
    assert remind(TODAY + timedelta(days=4)) == 2  # the 1-day reminder
    assert remind(TODAY + timedelta(days=5)) == 0  # the due date itself
    assert remind(TODAY + timedelta(days=6)) == 2  # overdue, the day after
    assert remind(TODAY + timedelta(days=9)) == 0
    assert remind(TODAY + timedelta(days=13)) == 2  # every 7 days while overdue
    kinds = sorted(
        (n.kind, n.key.rsplit(":", 1)[1])
        for n in notices_of(fund.uow, call_id=call_id)
        if n.kind != "capital_call"
    )
    assert (
        kinds
        == [("overdue", "0")] * 2 + [("overdue", "1")] * 2 + [("reminder", "1")] * 2 + [("reminder", "7")] * 2
    )
    assert paid.investor_id not in {
        n.investor_id for n in notices_of(fund.uow, kind="reminder", pool_id=fund.pool_id)
    }
    render_all(fund.uow)
    # A reminder attaches the call's notice.
    call_notice = {
        n.investor_id: n.document_id for n in notices_of(fund.uow, kind="capital_call", call_id=call_id)
    }
    overdue = notices_of(fund.uow, kind="overdue", pool_id=fund.pool_id)
    assert [(n.document_id, n.status) for n in overdue] == [
        (call_notice[n.investor_id], "in_app") for n in overdue
    ]
    with fund.uow() as uow:
        notices.set_reminders(fund.manager, uow, fund.pool_id, days_before="", overdue_every_days="")
    assert remind(TODAY + timedelta(days=20)) == 0  # reminders turned off for this pool


def test_reminder_settings_are_checked_and_the_managers_own(fund: Fund) -> None:
    with fund.uow() as uow, pytest.raises(FieldErrors) as refused:
        notices.set_reminders(fund.manager, uow, fund.pool_id, days_before="7, 0, x", overdue_every_days="-3")
    assert set(refused.value.fields) == {"days_before", "overdue_every_days"}
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.set_reminders(fund.investors[0], uow, fund.pool_id, days_before="3", overdue_every_days="")
    with fund.uow() as uow:
        saved = notices.set_reminders(
            fund.manager, uow, fund.pool_id, days_before="1 14 3", overdue_every_days="10"
        )
    assert (saved.days_before, saved.overdue_every_days) == ((14, 3, 1), 10)
    with fund.uow() as uow:
        assert notices.reminders(fund.manager, uow, fund.pool_id) == saved


# --- wire instructions ---------------------------------------------------------------------------------


def test_wire_instructions_are_validated_all_at_once_and_set_by_the_manager_only(fund: Fund) -> None:
    with fund.uow() as uow:
        version = pools.get_pool(fund.manager, uow, fund.pool_id).version
    bad = {
        "bank_name": "",
        "account_name": "Harbor Fund",
        "account_number": "DE88 3704 0044 0532 0130 00",
        "bank_code": "DEUT12FF",
        "reference_pattern": "REF-{pool}",
    }
    with fund.uow() as uow, pytest.raises(FieldErrors) as refused:
        notices.set_wire_instructions(fund.manager, uow, fund.pool_id, bad, version=version)
    messages = refused.value.fields
    assert set(messages) == {"bank_name", "account_number", "bank_code", "reference_pattern"}
    assert "check digits" in messages["account_number"] and "{investor}" in messages["reference_pattern"]
    good = {
        **bad,
        "bank_name": "Chase",
        "account_number": "000123456789",
        "bank_code": "021000021",
        "reference_pattern": "HF {investor}/{call}",
    }
    for intruder in (fund.make.user("fund_manager"), fund.investors[0]):
        with fund.uow() as uow, pytest.raises(PermissionDenied):
            notices.set_wire_instructions(intruder, uow, fund.pool_id, good, version=version)
    with fund.uow() as uow:
        saved = notices.set_wire_instructions(fund.manager, uow, fund.pool_id, good, version=version)
    assert saved.complete and saved.version == version + 1
    with fund.uow() as uow, pytest.raises(Stale):
        notices.set_wire_instructions(fund.manager, uow, fund.pool_id, good, version=version)
    # The investors of the pool read them (to pay); an outsider may not.
    with fund.uow() as uow:
        seen = notices.wire_instructions(fund.investors[1], uow, fund.pool_id)
    assert seen.for_investor(fund.investors[1].user_id, 3).reference == f"HF {fund.investors[1].user_id}/3"
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.wire_instructions(fund.make.user("investor"), uow, fund.pool_id)
    with fund.uow() as uow:
        owner = notices.reference_owner(
            uow, fund.pool_id, f"wire ref hf{fund.investors[1].user_id} / 3 thanks"
        )
    assert owner == {"investor": fund.investors[1].user_id, "call": 3}


def test_an_investor_sees_their_payment_instructions_for_their_own_item_only(fund: Fund) -> None:
    fund.wire()
    call_id = fund.call(START + timedelta(days=10))
    mine, theirs = fund.items(call_id)[:2]
    owner = next(p for p in fund.investors if p.user_id == mine.investor_id)
    with fund.uow() as uow:
        shown = notices.payment_instructions(owner, uow, mine.id)
    assert (
        shown.outstanding == mine.amount_due and shown.wire.reference == f"IP{fund.pool_id}-{owner.user_id}-1"
    )
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.payment_instructions(owner, uow, theirs.id)


# --- the inbox, access by id, and the manager's view -----------------------------------------------------


def test_the_inbox_marks_unread_and_refuses_another_investors_notice_by_id_with_an_audit(fund: Fund) -> None:
    call_id = fund.call(START + timedelta(days=10))
    render_all(fund.uow)
    me, other = fund.investors[0], fund.investors[1]
    with fund.uow() as uow:
        inbox = notices.inbox(me, uow)
        unread = notices.unread_count(me, uow)
    assert [(i.kind, i.title, i.unread) for i in inbox] == [
        ("capital_call", "Capital call notice: capital call 1", True)
    ]
    assert unread == 1
    with fund.uow() as uow:
        download = notices.open_notice(me, uow, inbox[0].id)
    assert download.content.startswith(b"%PDF-") and download.document.investor_id == me.user_id
    with fund.uow() as uow:
        assert notices.unread_count(me, uow) == 0 and not notices.inbox(me, uow)[0].unread
    theirs = notices_of(fund.uow, call_id=call_id, investor_id=other.user_id)[0]
    for service in (notices.open_notice, notices.mark_read):
        with fund.uow() as uow, pytest.raises(PermissionDenied):
            service(me, uow, theirs.id)
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        documents.download(me, uow, theirs.document_id)
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.inbox(me, uow, other.user_id)
    with fund.uow() as uow:
        refusals = uow.session.execute(
            select(AuditLog.action, AuditLog.object_type, AuditLog.object_id).where(
                AuditLog.actor_id == me.user_id, AuditLog.outcome == "refused"
            )
        ).all()
        downloads = (
            uow.session.execute(
                select(AuditLog.object_id).where(
                    AuditLog.actor_id == me.user_id,
                    AuditLog.action == "document.download",
                    AuditLog.outcome == "ok",
                )
            )
            .scalars()
            .all()
        )
    assert ("notice.open", "notice", str(theirs.id)) in refusals
    assert ("notice.read", "notice", str(theirs.id)) in refusals
    assert ("document.download", "document", str(theirs.document_id)) in refusals
    assert downloads == [str(inbox[0].document_id)]


def test_the_manager_sees_per_call_who_was_notified_and_when(fund: Fund, smtp: MailServer) -> None:
    call_id = fund.call(START + timedelta(days=10))
    with fund.uow() as uow:
        assert {n.status for n in notices.notified(fund.manager, uow, call_id=call_id)} == {"pending"}
    smtp.refuse(fund.investors[2].username + "@example.com")
    send_all(fund.uow, render_all(fund.uow))
    with fund.uow() as uow:
        seen = notices.notified(fund.manager, uow, call_id=call_id)
    assert {(n.investor_id, n.status, n.attempts) for n in seen} == {
        (p.user_id, *(("failed", 2) if p is fund.investors[2] else ("sent", 1))) for p in fund.investors
    }
    assert all(n.sent_at is not None for n in seen if n.status == "sent")
    assert next(n for n in seen if n.status == "failed").last_error.startswith("recipient refused: 550")
    with fund.uow() as uow:
        notices.open_notice(
            fund.investors[0],
            uow,
            next(n.notice_id for n in seen if n.investor_id == fund.investors[0].user_id),
        )
    with fund.uow() as uow:
        read = {n.investor_id: n.read_at for n in notices.notified(fund.manager, uow, call_id=call_id)}
    assert read[fund.investors[0].user_id] is not None and read[fund.investors[1].user_id] is None
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.notified(fund.make.user("fund_manager"), uow, call_id=call_id)


def test_who_was_notified_is_counted_whole_and_listed_by_name_a_page_at_a_time(
    fund: Fund, smtp: MailServer
) -> None:
    """A call to thousands of investors: the counts come from the database, the list is searched
    (name or email, any case; % and _ are plain characters) and limited, pending notices included."""
    call_id = fund.call(START + timedelta(days=10))
    first, second, third = fund.investors
    with fund.uow() as uow:
        counts = notices.notified_counts(fund.manager, uow, call_id=call_id)
        assert (counts.total, counts.by_status, counts.read) == (3, {"Being prepared": 3}, 0)
        listed = notices.notified(fund.manager, uow, call_id=call_id, limit=2)
        everyone = notices.notified(fund.manager, uow, call_id=call_id)
    assert [n.investor_name for n in everyone] == sorted(f"Test {p.username}" for p in fund.investors)
    assert listed == everyone[:2]
    smtp.refuse(third.username + "@example.com")
    send_all(fund.uow, render_all(fund.uow))
    with fund.uow() as uow:
        notices.open_notice(first, uow, next(n.notice_id for n in everyone if n.investor_id == first.user_id))
    with fund.uow() as uow:
        counts = notices.notified_counts(fund.manager, uow, call_id=call_id)
        by_name = notices.notified(fund.manager, uow, call_id=call_id, search=second.username.upper())
        by_email = notices.notified(fund.manager, uow, call_id=call_id, search=f"{third.username}@EXAMPLE")
        wildcard = notices.notified(fund.manager, uow, call_id=call_id, search="%")
    assert (counts.total, counts.by_status, counts.read) == (3, {"Emailed": 2, "Failed": 1}, 1)
    assert [n.investor_id for n in by_name] == [second.user_id]
    assert [(n.investor_id, n.status) for n in by_email] == [(third.user_id, "failed")]
    assert wildcard == []
    with fund.uow() as uow, pytest.raises(PermissionDenied):
        notices.notified_counts(fund.make.user("fund_manager"), uow, call_id=call_id)


def test_mail_off_stores_notices_in_the_app_and_says_so(fund: Fund) -> None:
    admin = fund.make.user("admin")
    with fund.uow() as uow:
        before = notices.delivery(admin, uow)  # (other tests' notices may wait to be sent)
    fund.call(START + timedelta(days=10))
    assert render_all(fund.uow) == []
    assert {n.status for n in notices_of(fund.uow, pool_id=fund.pool_id)} == {"in_app"}
    with fund.uow() as uow:
        health = notices.delivery(admin, uow)
    assert not health.mail.on and "Mail is off" in health.mail.detail
    assert (health.pending, health.ready) == (0, before.ready)  # this call's wait for nothing


# --- templates a fund edits -----------------------------------------------------------------------------


def test_a_funds_own_templates_shape_the_notice_and_its_email(
    fund: Fund, smtp: MailServer, environment: Callable[..., None], tmp_path: Any
) -> None:
    """The fund's name, footer and wording come from the templates folder (TEMPLATES_DIR), not from
    code: edited files change the next notice, its PDF and its email, and the figures stay the ledger's."""
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    branding = (folder / "branding.toml").read_text()
    branding = branding.replace('name = "Investment Pools Fund Services"', 'name = "Harbor Lane Capital"')
    branding = re.sub(
        r'(?m)^text = ".*"$', 'text = "Harbor Lane footer: questions to ops@harbor.example"', branding
    )
    (folder / "branding.toml").write_text(branding)
    environment(TEMPLATES_DIR=str(folder))
    fund.wire()
    call_id = fund.call(START + timedelta(days=10), "20")
    ready = render_all(fund.uow)
    assert send_all(fund.uow, ready) == ["sent"] * len(fund.investors)
    person = fund.investors[0]
    with fund.uow() as uow:
        email = uow.session.execute(
            text("SELECT email FROM users WHERE id = :i"), {"i": person.user_id}
        ).scalar()
    [mail] = smtp.to(email)
    [(_, content)] = mail.pdfs()
    shown = pdf_text(content)
    assert "Harbor Lane Capital" in shown and "Investment Pools Fund Services" not in shown
    assert "Harbor Lane footer: questions to ops@harbor.example" in shown
    [item] = [i for i in fund.items(call_id) if i.investor_id == person.user_id]
    assert amounts(shown, "Total due") == [item.amount_due]  # the figures are still the ledger's
    assert "Harbor Lane Capital" in mail.message.get_body(("plain",)).get_content()


# --- hostile text ----------------------------------------------------------------------------------------


def test_hostile_text_is_inert_in_pdfs_and_emails(make: Any, smtp: MailServer) -> None:
    fund = Fund(make, name=f"{HOSTILE} Fund")
    # Text from before today's validation (or from an import) may hold markup: it must stay text.
    with fund.uow() as uow:
        uow.session.execute(
            text("UPDATE users SET name = :n WHERE id = :i"),
            {
                "n": '<script>alert("x")</script><a href="https://evil.example">Zoe</a> <b>&lt;i&gt;',
                "i": fund.investors[0].user_id,
            },
        )
        uow.commit()
    call_id = fund.call(START + timedelta(days=10), purpose=HOSTILE)
    send_all(fund.uow, render_all(fund.uow))
    [notice] = notices_of(fund.uow, call_id=call_id, investor_id=fund.investors[0].user_id)
    content = stored(fund.uow, notice.document_id)
    shown = " ".join(pdf_text(content).split())  # lines wrapped as the page needs
    assert '<script>alert("x")</script><a href="https://evil.example">Zoe</a> <b>&lt;i&gt;' in shown
    assert f"{HOSTILE} Fund" in shown and HOSTILE in shown
    assert pdf_links(content) == [] and b"/URI" not in content
    [mail] = smtp.to(f"{fund.investors[0].username}@example.com")
    html = mail.html()
    assert "<script" not in html and "<a " not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;&amp;lt;i&amp;gt;" in html
    assert '<script>alert("x")</script>' in mail.text()  # plain text: shown as typed, inert
    assert "\n" not in mail.message["Subject"] and f"{HOSTILE} Fund" in mail.message["Subject"]
    # The address header carries the name without its markup (a "<" there would make an address).
    [to] = mail.message["To"].addresses
    assert (to.addr_spec, to.display_name) == (
        f"{fund.investors[0].username}@example.com",
        "script alert x script a href https evil.example Zoe a b lt i gt",
    )


def test_calls_from_before_notices_existed_get_no_reminders(fund: Fund) -> None:
    on = TODAY - timedelta(days=40)
    with clock.travel(on), fund.uow() as uow:
        command = calls.preview(fund.manager, uow, fund.pool_id, {"percent": "10", "purpose": "old"}).command
        status = calls.issue(fund.manager, uow, command)
    with clock.travel(on):
        done(fund.uow, status)
    [call_id] = {n.call_id for n in notices_of(fund.uow, pool_id=fund.pool_id)}
    with fund.uow() as uow:  # as a call issued before migration 0006 is: no notices were written
        uow.session.execute(
            text("DELETE FROM notice_batches WHERE cause = :c"), {"c": f"capital_call:{call_id}"}
        )
        uow.commit()
    with fund.uow() as uow:
        notices.remind(uow, TODAY)
        uow.commit()
    assert {n.kind for n in notices_of(fund.uow, call_id=call_id)} == {"capital_call"}  # no overdue notice


def test_another_investors_statement_is_refused_by_id_and_the_refusal_audited(fund: Fund) -> None:
    _, quarter_end = notices.quarter_of(TODAY - timedelta(days=100))
    with fund.uow() as uow:
        notices.issue_statements(fund.manager, uow, fund.pool_id, quarter_end)
    render_all(fund.uow)
    me, other = fund.investors[0], fund.investors[2]
    [theirs] = notices_of(fund.uow, kind="statement", investor_id=other.user_id)
    for service, object_id in (
        (notices.open_notice, theirs.id),
        (documents.download, theirs.document_id),
        (documents.versions, theirs.document_id),
    ):
        with fund.uow() as uow, pytest.raises(PermissionDenied):
            service(me, uow, object_id)
    with fund.uow() as uow:
        refused = set(
            uow.session.execute(
                select(AuditLog.action, AuditLog.object_id).where(
                    AuditLog.actor_id == me.user_id, AuditLog.outcome == "refused"
                )
            ).all()
        )
    assert {
        ("notice.open", str(theirs.id)),
        ("document.download", str(theirs.document_id)),
        ("document.read", str(theirs.document_id)),
    } <= refused
    # Their own statement opens, and only theirs is in their inbox.
    with fund.uow() as uow:
        mine = notices.inbox(me, uow)
        assert [i.kind for i in mine] == ["statement"]
        assert notices.open_notice(me, uow, mine[0].id).document.investor_id == me.user_id
