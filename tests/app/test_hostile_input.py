"""Hostile input through every form, in the real app (AppTest from Home.py) on the real database.

SQL fragments, markdown links and formatting, and emoji are stored and shown verbatim: as text in
tables, select boxes and inputs, and backslash-escaped wherever a page puts them into markdown
(titles, captions, messages, questions), so that nothing a user typed becomes a link, bold text or a
formula. Script tags, 100 KB strings, control characters, line breaks and right-to-left overrides
are refused by the services' clean_text with a message naming the field by its label (or cut by the
widget's own max_chars, never above what the service stores). No value raises an error page, and a
refused value changes nothing in the business tables.

Links (issue 15, "Text becomes links"): a pool named =HYPERLINK(...), and pools, purposes, wire
references, companies, notes and people's names holding a bare URL, a markdown link or a www.
address, render as inert text on every surface that shows them, for every role: no markdown element
carries an address that Streamlit's markdown would turn into a link (its GitHub autolinks run on the
parsed text, escapes resolved: app.textsafe.md breaks them with an invisible word joiner), and every
CSV the pages offer quotes a cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select

from app.textsafe import WORD_JOINER
from core import bootstrap, clock, operations
from core.csvsafe import FORMULA_STARTS
from core.permissions import Actor
from core.services import calls, pools, users
from db.models import CallItem, CapitalCall, Operation, Payment, Pool, PortfolioCompany, User
from tests.app.manager_support import (
    Fund,
    button,
    deferred_downloads,
    goto,
    logged_in,
    post,
    question,
    rerun_until,
)
from tests.app.manager_support import confirm as confirm_act
from tests.app.manager_support import errors as raw_errors
from tests.app.manager_support import successes as raw_successes
from tests.workers import table_state

# Stored and shown exactly as typed.
SQL = "'; DROP TABLE pools;--"
LINK = "[click](javascript:alert(1))"
MARKUP = "**bold** _it_ `code` # $x^2$ :red[alert] ![img](http://evil.example/p.png) &amp;"
EMOJI = "Rocket 🚀 Fund 🌍 ünïcødé 👨‍👩‍👧"  # the family is one emoji: three joined by U+200D
ACCEPTED = [SQL, LINK, MARKUP, EMOJI]
# Refused, with the field named: what clean_text refuses.
SCRIPT = "<script>alert(1)</script>"
HUGE = "A" * 100_000
CONTROL = "Fund\x00\x07\x1b[31mred"
NEWLINE = "two\nlines"
RTL = "Pool \u202egnp.exe"
REFUSED = [
    (SCRIPT, "must not contain < or >"),
    (HUGE, "must be at most"),
    (CONTROL, "must not contain control characters"),
    (NEWLINE, "must not contain control characters"),
    (RTL, "must not contain invisible formatting characters"),
]
# Elements whose string Streamlit renders as markdown.
MARKDOWN = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
SPECIAL = re.compile(r"[\\`*_{}\[\]<>#!|~$:&]")
# The tables a refused request must leave as they were (users compared without their activity).
TABLES = (
    "pools",
    "commitments",
    "capital_calls",
    "call_items",
    "journals",
    "entries",
    "operations",
    "payments",
    "portfolio_companies",
    "investments",
    "marks",
    "exits",
)


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def state() -> dict[str, Any]:
    """The business tables' checksums, and every user as an admin would see them (sign-ins move
    last_seen_at, which is not a change anyone made)."""
    found: dict[str, Any] = table_state(bootstrap.unit_of_work, TABLES)
    with bootstrap.unit_of_work() as uow:
        found["users"] = uow.session.execute(
            select(
                User.id, User.username, User.name, User.email, User.role, User.kyc_status, User.active
            ).order_by(User.id)
        ).all()
    return found


def unescape(markdown: str) -> str:
    """The text CommonMark parses out of markdown source: backslash escapes resolved."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def shown(markdown: str) -> str:
    """What a reader sees of markdown source: escapes resolved, invisible word joiners gone."""
    return unescape(markdown).replace(WORD_JOINER, "")


def errors(at: Any) -> list[str]:
    """The error messages as the reader sees them (pages escape quoted input for markdown)."""
    return [shown(e) for e in raw_errors(at)]


def successes(at: Any) -> list[str]:
    return [shown(s) for s in raw_successes(at)]


def markdown_values(at: Any) -> list[str]:
    """Every string the page hands Streamlit to render as markdown: elements, labels, bar texts."""
    values = [str(e.value) for kind in MARKDOWN for e in getattr(at, kind)]
    values += [str(m.label) for m in at.metric]
    values += [str(b.label) for b in at.button] + [str(c.label) for c in at.checkbox]
    values += [str(o) for r in at.radio for o in r.options]
    values += [str(e.proto.text) for e in at.get("progress")]
    values += [str(e.label) for e in at.expander] + [str(t.label) for t in at.tabs]
    return values


def text_values(at: Any) -> list[str]:
    """What the page shows as text already: inputs, options, table cells, code and text elements."""
    values = [str(w.value) for w in at.text_input]
    for kind in ("selectbox", "multiselect"):
        values += [str(option) for w in getattr(at, kind) for option in w.options]
    for frame in at.dataframe:
        values += [str(cell) for cell in frame.value.to_numpy().ravel()]
    values += [str(e.value) for e in at.code] + [str(e.value) for e in at.text]
    return values


def assert_shown_verbatim(at: Any, value: str) -> None:
    """Shown as text somewhere; never put raw into markdown, where it would be formatted."""
    assert not at.exception, at.exception
    found = [v for v in text_values(at) if value in v] + [v for v in markdown_values(at) if value in shown(v)]
    assert found, f"{value!r} is not shown on the page"
    if SPECIAL.search(value):
        raw = [v for v in markdown_values(at) if value in v]
        assert not raw, f"{value!r} rendered as markdown in {raw}"


def capped(at: Any, key: str, value: str, limit: int, *, in_form: bool = False) -> bool:
    """Whether the input is capped below this value by the widget itself: Streamlit's max_chars cuts
    what any client sends at the server, so an over-long value never reaches the service there.
    The cap must then be at most the service's own limit, and (outside an st.form, whose values
    wait for its submit button) the value is seen cut to it."""
    widget = at.text_input(key=key)
    cap = widget.max_chars
    if cap is None or len(value) <= cap:
        return False
    assert cap <= limit, f"{key}: the form lets {cap} characters through, the service stores {limit}"
    if in_form:
        return True
    widget.set_value(value).run()
    assert not at.exception, at.exception
    assert at.text_input(key=key).value == value[:cap], f"{key}: not cut to {cap} characters"
    at.text_input(key=key).set_value("")
    return True


def names_field(message: str, label: str, reason: str) -> bool:
    """The message (or one line of a list of them) starts with the field's label and says why."""
    return any(
        line.removeprefix("- ").startswith(f"{label} ") and reason in line for line in message.split("\n")
    )


def assert_refused(at: Any, label: str, reason: str) -> None:
    assert not at.exception, at.exception
    assert any(names_field(e, label, reason) for e in errors(at)), (label, reason, errors(at))
    assert not successes(at), successes(at)


def assert_no_raw_markdown(at: Any, values: list[str]) -> None:
    assert not at.exception, at.exception
    for value in values:
        if SPECIAL.search(value):
            raw = [v for v in markdown_values(at) if value in v]
            assert not raw, f"{value!r} rendered as markdown in {raw}"


def key_of(at: Any, form: str, field: str) -> str:
    """The key a form's field has now: <form>-<generation>[-<object id>]-<field> (app.webapp.form_key)."""
    pattern = re.compile(rf"^{re.escape(form)}-\d+(?:-\d+)?-{re.escape(field)}$")
    kinds = ("text_input", "selectbox", "date_input", "radio", "checkbox")
    found = [w.key for kind in kinds for w in getattr(at, kind) if w.key and pattern.match(w.key)]
    assert len(found) == 1, (form, field, found)
    return found[0]


def field(at: Any, form: str, name: str) -> Any:
    key = key_of(at, form, name)
    for kind in ("text_input", "selectbox", "date_input", "radio"):
        for widget in getattr(at, kind):
            if widget.key == key:
                return widget
    raise AssertionError(key)


def asked_button(at: Any, form: str) -> Any:
    return at.button(key=f"{form}-ask")


def process_pending(make: Any, pool_id: int) -> None:
    """Run, here, what the page submitted (no worker in these tests), as a worker would."""
    with make.uow_factory() as uow:
        ids = list(
            uow.session.execute(
                select(Operation.id).where(Operation.pool_id == pool_id, Operation.status == "pending")
            ).scalars()
        )
    assert ids, "the page submitted nothing"
    for operation_id in ids:
        assert operations.process(str(operation_id), make.uow_factory) == "done"


def posted(at: Any, make: Any, pool_id: int, said: str) -> Any:
    """Process what the form submitted, then rerun until the page says it is done."""
    process_pending(make, pool_id)
    return rerun_until(at, lambda a: any(said in s for s in successes(a)), what=said)


def closed_pool(make: Any, investors: int = 2, **terms: Any) -> tuple[int, Any, list[Any]]:
    pool_id, manager = make.pool(**terms)
    held = [make.commitment(pool_id, amount="100000", accept_as=manager)[1] for _ in range(investors)]
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    return pool_id, manager, held


def item_of(pool_id: int, investor: Any) -> int:
    """The investor's call item in the pool's (only) capital call."""
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(CallItem.id)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .where(CapitalCall.pool_id == pool_id, CallItem.investor_id == investor.user_id)
        ).scalar_one()


def issue_call(make: Any, manager: Any, pool_id: int, percent: str, purpose: str) -> None:
    request = {
        "percent": percent,
        "purpose": purpose,
        "due_date": (date.today() + timedelta(days=14)).isoformat(),
    }
    post(make.uow_factory, clock.today(), calls.preview, calls.issue, manager, pool_id, request)


# --- the manager's forms ------------------------------------------------------------------------------

FORM = "pages/manager_pool_form.py"
POOLS = "pages/manager_pools.py"
CALLS = "pages/manager_calls.py"
PORTFOLIO = "pages/manager_portfolio.py"
CORRECTIONS = "pages/manager_corrections.py"
COMMITMENTS = "pages/manager_commitments.py"
DASHBOARD = "pages/manager_dashboard.py"
TERMS = {
    "target_size": "5000000",
    "hard_cap": "7500000",
    "min_ticket": "25000",
    "max_ticket": "1000000",
    "management_fee_rate": "2",
    "carry_rate": "20",
    "hurdle_rate": "8",
    "catch_up_rate": "100",
}


def fill(at: Any, scope: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        at.text_input(key=f"{scope}-{name}").set_value(value)


def test_pool_names_on_the_create_and_edit_forms(make: Any, uow_factory: Any) -> None:
    boss = make.user("fund_manager")
    at = goto(logged_in(boss.username), FORM)
    for value, reason in REFUSED:
        if capped(at, "pool-new-name", value, 120, in_form=True):
            continue
        before = state()
        fill(at, "pool-new", {**TERMS, "name": value})
        at = button(at, "Save draft").click().run()
        assert_refused(at, "Name", reason)
        assert state() == before, f"{value[:30]!r} changed the database"
    saved: dict[str, int] = {}
    for value in ACCEPTED:
        if any(b.label == "Start a new pool instead" for b in at.button):
            at = button(at, "Start a new pool instead").click().run()
        fill(at, "pool-new", {**TERMS, "name": value})
        at = button(at, "Save draft").click().run()
        assert not errors(at), (value, errors(at))
        with uow_factory() as uow:
            pool_id, name = uow.session.execute(
                select(Pool.id, Pool.name)
                .where(Pool.manager_id == boss.user_id)
                .order_by(Pool.id.desc())
                .limit(1)
            ).one()
        assert name == value
        saved[value] = pool_id
        assert_shown_verbatim(at, value)  # the title "Edit <name>" and the name field
    # The edit form: a draft renamed to each hostile value.
    draft_id = saved[SQL]
    at = goto(at, FORM, edit_pool_id=draft_id)
    for value, reason in REFUSED:
        if capped(at, f"pool-{draft_id}-name", value, 120, in_form=True):
            continue
        before = state()
        fill(at, f"pool-{draft_id}", {"name": value})
        at = button(at, "Save draft").click().run()
        assert_refused(at, "Name", reason)
        assert state() == before
    for value in (LINK, EMOJI):
        fill(at, f"pool-{draft_id}", {"name": value})
        at = button(at, "Save draft").click().run()
        assert not errors(at), errors(at)
        with uow_factory() as uow:
            assert uow.session.get(Pool, draft_id).name == value
        assert_shown_verbatim(at, value)
    # The manager's list of pools shows every name, escaped in each card's heading.
    at = goto(at, POOLS)
    for value in (LINK, MARKUP, EMOJI):
        assert_shown_verbatim(at, value)


def test_capital_call_purpose_and_payment_reference(make: Any, uow_factory: Any) -> None:
    pool_id, boss, held = closed_pool(make, name=MARKUP)
    at = goto(logged_in(boss.username), CALLS, manager_pool_id=pool_id)
    assert_shown_verbatim(at, MARKUP)  # the pool picker
    # The call's purpose: every refusal at the preview, by the field's label, nothing written.
    for value, reason in REFUSED:
        if capped(at, key_of(at, "capital-call", "purpose"), value, 200):
            continue
        before = state()
        field(at, "capital-call", "value").set_value("10")
        field(at, "capital-call", "purpose").set_value(value)
        at = button(at, "Preview the call").click().run()
        assert_refused(at, "Purpose", reason)
        assert not [b for b in at.button if b.key == "capital-call-ask"], "nothing to issue"
        assert state() == before
    for value in ACCEPTED:
        field(at, "capital-call", "value").set_value("10")
        field(at, "capital-call", "purpose").set_value(value)
        at = button(at, "Preview the call").click().run()
        assert not errors(at), errors(at)
        assert_shown_verbatim(at, value)  # "**Capital call 1 (<purpose>)**: ..." in the preview
    asked = question(at, "capital-call")  # the last one: EMOJI
    assert f"Issue Capital call 1 ({EMOJI})" in shown(asked)
    at.button(key="capital-call-yes").click().run()
    at = posted(at, make, pool_id, f"Capital call 1 ({EMOJI}) is issued")
    with uow_factory() as uow:
        [purpose] = uow.session.execute(
            select(CapitalCall.purpose).where(CapitalCall.pool_id == pool_id)
        ).scalars()
    assert purpose == EMOJI
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert_shown_verbatim(at, EMOJI)

    # The payment form's wire reference: refused as it is typed (the form previews every change).
    item_id = item_of(pool_id, held[0])
    field(at, "payment", "item").set_value(item_id).run()
    for value, reason in REFUSED:
        if capped(at, key_of(at, "payment", "reference"), value, 100):
            continue
        before = state()
        field(at, "payment", "amount").set_value("10")
        field(at, "payment", "reference").set_value(value)
        at.run()
        assert_refused(at, "Reference", reason)
        assert asked_button(at, "payment").disabled, "a refused payment cannot be asked to record"
        assert state() == before
    for index, value in enumerate(ACCEPTED, start=1):
        field(at, "payment", "item").set_value(item_id).run()
        field(at, "payment", "amount").set_value(str(index))
        field(at, "payment", "reference").set_value(value)
        at.run()
        assert not errors(at), (value, errors(at))
        asked = confirm_act(at, "payment")
        assert f"wire {value}" in shown(asked), asked
        assert_no_raw_markdown(at, [value])
        at = posted(at, make, pool_id, "Payment recorded")
    with uow_factory() as uow:
        references = list(
            uow.session.execute(
                select(Payment.reference).where(Payment.pool_id == pool_id).order_by(Payment.id)
            ).scalars()
        )
    assert references == ACCEPTED
    # The payments received, each reference shown as text.
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)


def test_investment_company_valuation_note_and_exit(make: Any, uow_factory: Any) -> None:
    fund = Fund(make, age=60)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))  # 300,000 in cash
    fund.invest(fund.day(20), "Acme", "1000")
    at = goto(logged_in(fund.manager.username), PORTFOLIO, manager_pool_id=fund.pool_id)
    acme = fund.company("Acme")
    field(at, "valuation", "company").set_value(acme).run()
    field(at, "exit", "company").set_value(acme).run()
    for value, reason in REFUSED:
        before = state()
        if not capped(at, key_of(at, "investment", "company"), value, 120):
            field(at, "investment", "company").set_value(value)
            field(at, "investment", "amount").set_value("100")
            at.run()
            assert_refused(at, "Company", reason)
            assert asked_button(at, "investment").disabled
            field(at, "investment", "company").set_value("")
            at.run()
            assert state() == before
        if not capped(at, key_of(at, "valuation", "note"), value, 200):
            field(at, "valuation", "value").set_value("1")
            field(at, "valuation", "note").set_value(value)
            at.run()
            assert_refused(at, "Note", reason)
            assert asked_button(at, "valuation").disabled
            field(at, "valuation", "note").set_value("")
            at.run()
            assert state() == before
    # The exit's proceeds: text that is not an amount is refused by its label, nothing written.
    for value in (SQL, SCRIPT, EMOJI, "1e9", HUGE):
        before = state()
        field(at, "exit", "proceeds").set_value(value)
        at.run()
        assert not at.exception, at.exception
        assert any(names_field(e, "Proceeds", "") for e in errors(at)), (value[:30], errors(at))
        assert asked_button(at, "exit").disabled
        assert state() == before
    field(at, "exit", "proceeds").set_value("")
    at.run()

    for index, value in enumerate(ACCEPTED, start=1):
        field(at, "investment", "company").set_value(value)
        field(at, "investment", "amount").set_value(str(100 * index))
        at.run()
        assert not errors(at), (value, errors(at))
        asked = confirm_act(at, "investment")
        assert f"in {value} on" in shown(asked), asked
        assert_no_raw_markdown(at, [value])
        at = posted(at, make, fund.pool_id, "Investment recorded")
    with uow_factory() as uow:
        companies = set(
            uow.session.execute(
                select(PortfolioCompany.name).where(PortfolioCompany.pool_id == fund.pool_id)
            ).scalars()
        )
    assert companies == {"Acme", *ACCEPTED}
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the holdings table and the holding pickers

    # Notes, valued on the hostile-named holdings; then one of them sold.
    for index, value in enumerate(ACCEPTED, start=1):
        field(at, "valuation", "company").set_value(fund.company(value)).run()
        field(at, "valuation", "value").set_value(str(200 * index))
        field(at, "valuation", "note").set_value(value)
        at.run()
        assert not errors(at), (value, errors(at))
        asked = confirm_act(at, "valuation")
        assert f"Value {value} at" in shown(asked), asked
        at = posted(at, make, fund.pool_id, "Valuation recorded")
        assert_no_raw_markdown(at, [value])
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the valuations' notes
    field(at, "exit", "company").set_value(fund.company(MARKUP)).run()
    field(at, "exit", "proceeds").set_value("1000")
    at.run()
    asked = confirm_act(at, "exit")
    assert f"holding in {MARKUP}" in shown(asked), asked
    at = posted(at, make, fund.pool_id, f"Exit recorded: {MARKUP} sold")
    assert_no_raw_markdown(at, [MARKUP])
    exits = [d.value for d in at.dataframe if "Proceeds" in d.value.columns]
    assert [list(e["Company"]) for e in exits] == [[MARKUP]]


# --- the investor's forms -----------------------------------------------------------------------------


def test_commit_form_and_investor_payment_reference(make: Any, uow_factory: Any) -> None:
    open_id, _ = make.pool(name=LINK)
    closed_id, boss, held = closed_pool(make, name=EMOJI)
    payer = held[0]
    issue_call(make, boss, closed_id, "50", MARKUP)
    at = goto(logged_in(payer.username), "pages/investor_open_pools.py")
    assert_shown_verbatim(at, LINK)  # the open pools table and the picker
    for value in [SQL, LINK, SCRIPT, HUGE, CONTROL, RTL, EMOJI, "1e400", "NaN", "-5", "1e5"]:
        before = state()
        field(at, "commit", "pool").set_value(open_id).run()
        field(at, "commit", "amount").set_value(value)
        at = button(at, "Commit").click().run()
        assert not at.exception, at.exception
        assert any(names_field(e, "Amount", "") for e in errors(at)), (value[:30], errors(at))
        assert not successes(at)
        assert state() == before
    field(at, "commit", "pool").set_value(open_id).run()
    field(at, "commit", "amount").set_value("50000")
    at = button(at, "Commit").click().run()
    assert not errors(at), errors(at)
    assert any(f"to {LINK} submitted" in s for s in successes(at)), successes(at)
    assert_no_raw_markdown(at, [LINK])  # "Commitment of ... to <name> submitted", the pending line

    at = goto(at, "pages/investor_capital_calls.py")
    assert_shown_verbatim(at, MARKUP)  # the call's purpose, in the table and the picker
    field(at, "pay", "item").set_value(item_of(closed_id, payer)).run()
    for value, reason in REFUSED:
        if capped(at, key_of(at, "pay", "reference"), value, 100):
            continue
        before = state()
        field(at, "pay", "amount").set_value("10")
        field(at, "pay", "reference").set_value(value)
        at.run()
        assert_refused(at, "Reference", reason)
        assert at.button(key=f"{key_of(at, 'pay', 'amount').removesuffix('-amount')}-confirm-ask").disabled
        assert state() == before
    field(at, "pay", "amount").set_value("10")
    field(at, "pay", "reference").set_value(LINK)
    at.run()
    form = key_of(at, "pay", "amount").removesuffix("-amount")
    asked = question(at, f"{form}-confirm")
    assert f"by wire {LINK} on Capital call 1 ({MARKUP}) of {EMOJI}" in shown(asked), asked
    assert_no_raw_markdown(at, [LINK, MARKUP])
    at.button(key=f"{form}-confirm-yes").click().run()
    at = posted(at, make, closed_id, "Payment of $10.00")
    with uow_factory() as uow:
        assert list(
            uow.session.execute(select(Payment.reference).where(Payment.pool_id == closed_id)).scalars()
        ) == [LINK]
    at = goto(at, "pages/investor_pool_detail.py")
    at.query_params["pool"] = str(closed_id)
    at.run()
    assert_shown_verbatim(at, EMOJI)  # the pool's heading
    assert_shown_verbatim(at, LINK)  # the payment's reference in the transactions
    at = goto(at, "pages/investor_statements.py")
    assert_shown_verbatim(at, LINK)
    assert_no_raw_markdown(at, [EMOJI, MARKUP])


# --- the admin's forms and filters --------------------------------------------------------------------


def test_admin_create_user_invite_and_filters(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    at = goto(logged_in(admin.username), "pages/admin_users.py")
    for index, (value, reason) in enumerate(REFUSED):
        before = state()
        at.text_input(key="new-username").set_value(f"hostile{index}")
        at.text_input(key="new-name").set_value(value)
        at.text_input(key="new-email").set_value(f"hostile{index}@example.com")
        at = button(at, "Create").click().run()
        assert_refused(at, "Name", reason)  # the message's label for "Full name"
        assert state() == before
    for value in (SQL, LINK, "Ünïcødé 🚀", "a\x00b", "evil\u202e", SCRIPT, HUGE):
        before = state()
        at.text_input(key="new-username").set_value(value)
        at.text_input(key="new-name").set_value("Someone")
        at.text_input(key="new-email").set_value("someone@example.com")
        at = button(at, "Create").click().run()
        assert_refused(at, "Username", "must be 3-64 characters")
        assert state() == before
    for value in (
        "x\x00@example.com",
        "a@b.com\nBcc: x@example.com",
        "<a@example.com>",
        "evil\u202e@example.com",
        HUGE + "@example.com",
    ):
        before = state()
        at.text_input(key="new-username").set_value("hostile-mail")
        at.text_input(key="new-name").set_value("Someone")
        at.text_input(key="new-email").set_value(value)
        at = button(at, "Create").click().run()
        assert not at.exception, at.exception
        assert any(names_field(e, "Email", "") for e in errors(at)), (value[:30], errors(at))
        assert state() == before
    for index, value in enumerate(ACCEPTED):
        username = f"hostile-ok{index}-{admin.username[-6:]}"
        at.text_input(key="new-username").set_value(username)
        at.text_input(key="new-name").set_value(value)
        at.text_input(key="new-email").set_value(f"{username}@example.com")
        at = button(at, "Create").click().run()
        assert not at.exception and not errors(at), (value, errors(at))
        with uow_factory() as uow:
            assert (
                uow.session.execute(select(User.name).where(User.username == username)).scalar_one() == value
            )
    at.text_input(key="search").set_value("hostile-ok")
    at = at.run()
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the users table
    # Invites (sign-in through the identity provider): the email and the name.
    for value in ("x\x00@example.com", "evil\u202e@example.com", SCRIPT, HUGE):
        before = state()
        at.text_input(key="invite-email").set_value(value)
        at = button(at, "Invite").click().run()
        assert not at.exception, at.exception
        assert any(names_field(e, "Email", "") for e in errors(at)), (value[:30], errors(at))
        assert state() == before
    for value, reason in REFUSED:
        before = state()
        at.text_input(key="invite-email").set_value("invited-hostile@example.com")
        at.text_input(key="invite-name").set_value(value)
        at = button(at, "Invite").click().run()
        assert_refused(at, "Name", reason)
        assert state() == before
    invited = f"invited-{admin.username[-6:]}@example.com"
    at.text_input(key="invite-email").set_value(invited)
    at.text_input(key="invite-name").set_value(LINK)
    at = button(at, "Invite").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any(f"Invited {invited}" in s for s in successes(at)), successes(at)
    with uow_factory() as uow:
        assert uow.session.execute(select(User.name).where(User.email == invited)).scalar_one() == LINK
    assert_no_raw_markdown(at, [LINK])
    # The search box and the audit log's filters: any text, no crash, nothing written; what cannot be
    # a filter (control characters, 100 KB, invisible formatting) is refused with the filter named.
    for value in (SQL, LINK, HUGE, "a\x00b", RTL, "%", "_", EMOJI):
        before = state()
        at.text_input(key="search").set_value(value)
        at = at.run()
        assert not at.exception, (value[:30], at.exception)
        if value in (HUGE, "a\x00b", RTL):
            assert any(names_field(e, "Search", "must") for e in errors(at)), (value[:30], errors(at))
        else:
            assert not errors(at), (value[:30], errors(at))
        assert state() == before
    at.text_input(key="search").set_value("")
    at = goto(at.run(), "pages/admin_audit.py")
    for label, named in (("Action contains", "Action"), ("Who", "Who"), ("Object id", "Object id")):
        [widget] = [w for w in at.text_input if w.label == label]
        for value in (SQL, LINK, HUGE, "a\x00b", RTL, EMOJI, "%_"):
            before = state()
            widget.set_value(value)
            at = at.run()
            assert not at.exception, (label, value[:30], at.exception)
            if value in (HUGE, "a\x00b", RTL):
                assert any(names_field(e, named, "must") for e in errors(at)), (label, value[:30], errors(at))
            else:
                assert not errors(at), (label, value[:30], errors(at))
            assert state() == before
            [widget] = [w for w in at.text_input if w.label == label]
        widget.set_value("")
        at = at.run()
    # The invite is in the log, its name as text.
    at = goto(at, "pages/admin_audit.py")
    assert_no_raw_markdown(at, [LINK])
    at = goto(at, "pages/admin_exports.py")
    assert not at.exception, at.exception


# --- the analyst: hostile names in the explorer's filters and charts -------------------------------------


def test_analyst_pages_show_hostile_names_as_text(make: Any) -> None:
    boss = make.user("fund_manager")
    for value in ACCEPTED:
        make.pool(boss, name=value)
    analyst = make.user("analyst")
    at = goto(logged_in(analyst.username), "pages/analyst_explorer.py")
    assert_no_raw_markdown(at, ACCEPTED)
    at.session_state["explorer-tab"] = "Pools"  # what a click on the tab does
    at.run()
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the pool table
    at = goto(at, "pages/analyst_compare.py")
    chooser = at.multiselect(key="compare-pools")
    options = [o for o in chooser.options if any(o.startswith(v) for v in ACCEPTED)]
    assert all(any(o.startswith(v) for o in options) for v in ACCEPTED), chooser.options[:10]  # verbatim
    at = chooser.set_value(options[:4]).run()
    assert not errors(at), errors(at)
    assert_no_raw_markdown(at, ACCEPTED)
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the multiples table


# --- links: user text that looks like one stays text everywhere ----------------------------------------

FORMULA_POOL = '=HYPERLINK("http://evil.example","x") Fund'
LINK_POOL = "Pay https://evil.example/pay [Pay here](https://evil.example) www.evil.example Fund"
OPEN_POOL = "Open WWW.evil.example https://evil.example/open"
PURPOSE = "Wire to https://evil.example/pay or www.evil.example [Pay here](https://evil.example)"
REFERENCE = "[Pay here](https://evil.example) www.evil.example"
COMPANY = "www.evil.example Ltd (https://evil.example)"
NOTE = "see https://evil.example/mark"
PERSON = "Ann https://evil.example/ann www.evil.example"
LINKY = [FORMULA_POOL, LINK_POOL, OPEN_POOL, PURPOSE, REFERENCE, COMPANY, NOTE, PERSON]
# What remark-gfm's autolink literals link: http(s):// and www. addresses, found in the text as
# parsed (escapes resolved); a word joiner inside "://" or after "www" breaks them, as in the browser.
AUTOLINK = re.compile(r"(?:https?://|www\.)\S*evil\.example", re.IGNORECASE)
MARKDOWN_LINK = re.compile(r"(?<!\\)\]\(")  # "[text](url)" with its bracket not escaped
ANGLE_LINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]*:")  # <https://...>, <mailto:...>


def live_links(at: Any) -> list[str]:
    """Markdown on the page that would draw a link to the hostile address."""
    found = []
    for source in markdown_values(at):
        if "evil" not in source.lower():
            continue
        text = unescape(source)
        if AUTOLINK.search(text) or MARKDOWN_LINK.search(source) or ANGLE_LINK.search(source):
            found.append(source)
    return found


def assert_inert(at: Any, *expected: str) -> None:
    """No link to the hostile address, and each expected text shown on the page as typed."""
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    assert not live_links(at), live_links(at)
    for value in expected:
        assert_shown_verbatim(at, value)


def csv_rows(data: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode() if isinstance(data, bytes) else data)))


def assert_csv_safe(rows: list[list[str]], *names: str) -> None:
    """No cell a spreadsheet would run (text starting = + @ tab CR is quoted; "-" only for numbers),
    and each name is there, quoted if it starts like a formula."""
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        if cell[:1] in FORMULA_STARTS:
            assert cell[:1] == "-" and re.fullmatch(r"-\d+(\.\d+)?", cell), f"unneutralised cell {cell!r}"
    for name in names:
        wanted = "'" + name if name[:1] in FORMULA_STARTS else name
        assert any(wanted in cell for cell in cells), f"{name!r} not in the file"
        if name[:1] in FORMULA_STARTS:
            assert name not in cells, f"{name!r} left as a formula"


def downloads(at: Any) -> list[tuple[str, Any]]:
    """Every file the page builds on a click, built as that click would build it: (label, contents)."""
    with deferred_downloads() as registered:
        at.run()
    assert not at.exception, at.exception
    return [
        (element.proto.label, registered[element.proto.deferred_file_id]())
        for element in at.get("download_button")
        if element.proto.deferred_file_id
    ]


class LinkyWorld:
    """A manager's pools named with links and formulas, through the real services: a closed pool
    with a call (purpose with links), payments (references with links), a holding (company with
    links) valued with a linky note; a pool named =HYPERLINK(...) with a call; an open pool; and an
    investor whose name holds links, waiting on the open pool."""

    def __init__(self, make: Any, suffix: str = "") -> None:
        self.make = make
        self.names = (LINK_POOL + suffix, FORMULA_POOL + suffix)
        self.fund = fund = Fund(make, age=90, name=LINK_POOL + suffix)
        self.manager = fund.manager
        self.investor = fund.investors[0]
        fund.call("50", fund.day(10), purpose=PURPOSE)
        for n, item in enumerate(fund.items(1)):
            fund.pay(item, fund.day(12), reference=REFERENCE if n == 0 else f"{REFERENCE} {n}")
        fund.invest(fund.day(20), COMPANY, "100000")
        fund.mark(fund.day(30), COMPANY, "150000", note=NOTE)
        self.formula_id, _ = make.pool(self.manager, name=FORMULA_POOL + suffix)
        make.commitment(self.formula_id, self.investor, amount="100000", accept_as=self.manager)
        with make.uow_factory() as uow:
            pools.close_pool(self.manager, uow, self.formula_id)
        issue_call(make, self.manager, self.formula_id, "10", "Formula call")
        self.open_id, _ = make.pool(self.manager, name=OPEN_POOL)
        username = f"linky_{self.manager.username[-6:]}"
        with make.uow_factory() as uow:
            person_id, _ = users.create_user(
                Actor.system(),
                uow,
                username,
                name=PERSON,
                email=f"{username}@example.com",
                role="investor",
                password="correct-horse-battery",
                kyc_status="approved",
                accreditation="accredited",
            )
        self.person = Actor(person_id, "investor", username)
        make.commitment(self.open_id, self.person, amount="50000")


def test_links_stay_text_on_the_investors_pages_and_files(make: Any) -> None:
    world = LinkyWorld(make)
    at = logged_in(world.investor.username)
    assert_inert(at, LINK_POOL, FORMULA_POOL)  # Portfolio: the holdings table
    at.query_params["pool"] = str(world.fund.pool_id)
    at.switch_page("pages/investor_pool_detail.py").run()
    assert_inert(at, LINK_POOL, PURPOSE, REFERENCE)  # the heading, the calls, the transactions
    assert any(LINK_POOL in shown(h.value) for h in at.header), "the pool's name heads its page"
    at.query_params["pool"] = str(world.formula_id)
    at.run()
    assert_inert(at, FORMULA_POOL)
    assert any(FORMULA_POOL in shown(h.value) for h in at.header)
    at = goto(at, "pages/investor_open_pools.py")
    assert_inert(at, OPEN_POOL)
    field(at, "commit", "pool").set_value(world.open_id).run()
    field(at, "commit", "amount").set_value("20000")
    at = button(at, "Commit").click().run()
    assert any(f"to {OPEN_POOL} submitted" in s for s in successes(at)), successes(at)
    assert_inert(at, OPEN_POOL)  # the message and the pending commitment's line
    question(
        at, next(b.key for b in at.button if b.key and b.key.startswith("withdraw-")).removesuffix("-ask")
    )
    assert_inert(at)  # the withdrawal's question names the pool
    at = goto(at, "pages/investor_capital_calls.py")
    assert_inert(at, FORMULA_POOL)  # the open Formula call (the other is paid, under "Paid")
    at = goto(at, "pages/investor_statements.py")
    assert_inert(at, LINK_POOL, REFERENCE)
    files = downloads(at)
    assert [label for label, _ in files] == ["Capital account statement (CSV)", "Transaction history (CSV)"]
    for _, data in files:
        assert_csv_safe(csv_rows(data), FORMULA_POOL, LINK_POOL)


def test_links_stay_text_on_the_managers_pages_and_files(make: Any) -> None:
    world = LinkyWorld(make)
    fund = world.fund
    at = logged_in(world.manager.username)  # My pools: a card per pool, its name as a heading
    assert_inert(at, LINK_POOL, FORMULA_POOL, OPEN_POOL)
    for name in (LINK_POOL, FORMULA_POOL, OPEN_POOL):
        assert any(name == shown(s.value) for s in at.subheader), name
    question(at, f"close-{world.open_id}")
    assert_inert(at)  # "Close <name> with ... committed?"
    at = goto(at, FORM, edit_pool_id=fund.pool_id)
    assert_inert(at, LINK_POOL)
    assert [shown(t.value) for t in at.title] == [f"Edit {LINK_POOL}"]
    at = goto(at, COMMITMENTS, manager_pool_id=world.open_id)
    assert_inert(at, OPEN_POOL, PERSON)  # the waiting investor's name, in bold
    at = goto(at, DASHBOARD, manager_pool_id=fund.pool_id)
    assert_inert(at, LINK_POOL)

    at = goto(at, CALLS, manager_pool_id=fund.pool_id)
    field(at, "capital-call", "value").set_value("10")
    field(at, "capital-call", "purpose").set_value(PURPOSE)
    at = button(at, "Preview the call").click().run()
    assert_inert(at, PURPOSE)  # "**Capital call 2 (<purpose>)**: ..."
    question(at, "capital-call")
    assert_inert(at)  # "Issue Capital call 2 (<purpose>) ...?"
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert_inert(at, PURPOSE, REFERENCE)  # the call book, the payments received
    at = goto(at, CALLS, manager_pool_id=world.formula_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    [notice] = [data for label, data in downloads(at) if label.startswith("Download the call notice")]
    assert_csv_safe(csv_rows(notice), FORMULA_POOL)

    at = goto(at, PORTFOLIO, manager_pool_id=fund.pool_id)
    assert_inert(at, COMPANY, NOTE)
    company = fund.company(COMPANY)
    field(at, "exit", "company").set_value(company).run()
    field(at, "exit", "proceeds").set_value("200000")
    at.run()
    asked = question(at, "exit")
    assert COMPANY in shown(asked)
    assert_inert(at)
    field(at, "valuation", "company").set_value(company).run()
    field(at, "valuation", "value").set_value("160000")
    field(at, "valuation", "note").set_value(NOTE)
    at.run()
    assert_inert(at)

    at = goto(at, CORRECTIONS, manager_pool_id=fund.pool_id)
    assert_inert(at, REFERENCE)  # the postings that can be reversed, as text
    chooser = field(at, "correction", "posting")
    [pick] = [i for i, label in enumerate(chooser.options) if f"wire {REFERENCE} ·" in label]
    chooser.select_index(pick).run()
    field(at, "correction", "reason").set_value(f"Keyed wrong, see {NOTE}")
    at.run()
    asked = question(at, "correction")
    assert f"wire {REFERENCE}" in shown(asked), asked
    assert_inert(at)


def test_links_stay_text_for_the_analyst_and_in_chart_files(make: Any) -> None:
    # Named apart from other tests' pools (the comparison picks them by name).
    world = LinkyWorld(make, suffix=f" {make.user('investor').username[-6:]}")
    linky, formula = world.names
    analyst = make.user("analyst")
    at = goto(logged_in(analyst.username), "pages/analyst_explorer.py")
    assert_inert(at)
    at.session_state["explorer-tab"] = "Pools"
    at.run()
    assert_inert(at, linky, formula, OPEN_POOL)
    [every] = [data for label, data in downloads(at) if label.startswith("Download every pool")]
    assert_csv_safe(csv_rows(every), formula, linky, OPEN_POOL)
    at = goto(at, "pages/analyst_compare.py")
    chooser = at.multiselect(key="compare-pools")
    ours = [o for o in chooser.options if o.startswith((f"{linky} (", f"{formula} ("))]
    assert len(ours) == 2, [o for o in chooser.options if "evil" in o]
    at = chooser.set_value(ours).run()
    assert_inert(at, linky, formula)
    files = downloads(at)
    assert len(files) >= 2, [label for label, _ in files]  # the table's CSV and each chart's
    for _, data in files:
        assert_csv_safe(csv_rows(data))
    [table] = [data for label, data in files if label == "Download this table (CSV)"]
    assert_csv_safe(csv_rows(table), formula, linky)


def test_links_stay_text_for_the_admin_and_in_exports(make: Any) -> None:
    world = LinkyWorld(make)
    admin = make.user("admin")
    at = goto(logged_in(admin.username), "pages/admin_users.py")
    at.text_input(key="search").set_value(world.person.username)
    at = at.run()
    assert_inert(at, PERSON)
    assert list(at.dataframe[0].value["Name"]) == [PERSON]
    at = goto(at, "pages/admin_audit.py")
    assert_inert(at)
    assert any(LINK_POOL in v for v in text_values(at)), "the pool's creation is in the log, as text"
    [(_, log)] = downloads(at)
    assert_csv_safe(csv_rows(log))
    at = goto(at, "pages/admin_exports.py")
    from core.services import exports

    at.selectbox[0].select(exports.REPORTS["commitments"].title)
    at = button(at, "Build export").click().run()
    assert_inert(at)
    name, data, _ = at.session_state["export_ready"]
    assert_csv_safe(csv_rows(data), FORMULA_POOL, LINK_POOL, OPEN_POOL)
