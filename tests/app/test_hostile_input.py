"""Hostile input through every form, in the real app (AppTest from Home.py) on the real database.

SQL fragments, markdown links and formatting, and emoji are stored and shown verbatim: as text in
tables, select boxes and inputs, and backslash-escaped wherever a page puts them into markdown
(titles, captions, messages), so that nothing a user typed becomes a link, bold text or a formula.
Script tags, 100 KB strings, control characters and right-to-left overrides are refused by the
services' clean_text with a message naming the field. No value raises an error page, and a refused
value changes nothing in the business tables.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select

from core import bootstrap, operations
from core.services import pools, users
from db.models import CallItem, CapitalCall, Operation, Pool, User
from tests.app.manager_support import button, goto, logged_in
from tests.app.manager_support import errors as raw_errors
from tests.app.manager_support import successes as raw_successes
from tests.workers import table_state

DUE = (date.today() + timedelta(days=14)).isoformat()

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


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def state() -> dict[str, tuple[Any, ...]]:
    return table_state(bootstrap.unit_of_work)


def unescape(markdown: str) -> str:
    """What CommonMark shows for backslash escapes: the character itself."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def errors(at: Any) -> list[str]:
    """The error messages as the reader sees them (pages escape quoted input for markdown)."""
    return [unescape(e) for e in raw_errors(at)]


def successes(at: Any) -> list[str]:
    return [unescape(s) for s in raw_successes(at)]


def markdown_values(at: Any) -> list[str]:
    values = [str(e.value) for kind in MARKDOWN for e in getattr(at, kind)]
    values += [str(m.label) for m in at.metric]
    return values


def text_values(at: Any) -> list[str]:
    """What the page shows as text already: inputs, options, table cells, code and text elements."""
    values = [str(w.value) for w in at.text_input]
    for kind in ("selectbox", "multiselect", "radio"):
        values += [str(option) for w in getattr(at, kind) for option in w.options]
    for frame in at.dataframe:
        values += [str(cell) for cell in frame.value.to_numpy().ravel()]
    values += [str(e.value) for e in at.code] + [str(e.value) for e in at.text]
    return values


def assert_shown_verbatim(at: Any, value: str) -> None:
    """Shown as text somewhere; never put raw into markdown, where it would be formatted."""
    assert not at.exception, at.exception
    shown = [v for v in text_values(at) if value in v] + [
        v for v in markdown_values(at) if value in unescape(v)
    ]
    assert shown, f"{value!r} is not shown on the page"
    if SPECIAL.search(value):
        raw = [v for v in markdown_values(at) if value in v]
        assert not raw, f"{value!r} rendered as markdown in {raw}"


def capped(at: Any, key: str, value: str, limit: int) -> bool:
    """Whether the input is capped below this value by the widget itself: Streamlit's max_chars cuts
    what any client sends at the server, so an over-long value never reaches the service there.
    The cap must then be at most the service's own limit."""
    cap = at.text_input(key=key).max_chars
    if cap is None or len(value) <= cap:
        return False
    assert cap <= limit, f"{key}: the form lets {cap} characters through, the service stores {limit}"
    return True


def assert_refused(at: Any, label: str, reason: str) -> None:
    assert not at.exception, at.exception
    assert any(label in e and reason in e for e in errors(at)), (label, reason, errors(at))
    assert not successes(at), successes(at)


def assert_no_raw_markdown(at: Any, values: list[str]) -> None:
    assert not at.exception, at.exception
    for value in values:
        if SPECIAL.search(value):
            raw = [v for v in markdown_values(at) if value in v]
            assert not raw, f"{value!r} rendered as markdown in {raw}"


def closed_pool(make: Any, investors: int = 2, **terms: Any) -> tuple[int, Any, list[Any]]:
    pool_id, manager = make.pool(**terms)
    held = [make.commitment(pool_id, amount="100000", accept_as=manager)[1] for _ in range(investors)]
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    return pool_id, manager, held


def run_op(make: Any, actor: Any, pool_id: int | None, kind: str, payload: dict[str, Any]) -> None:
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    assert operations.process(str(status.id), make.uow_factory) == "done"


def process_pending(make: Any, pool_id: int) -> None:
    """Run, here, what the page submitted (no worker in these tests)."""
    with make.uow_factory() as uow:
        pending = uow.session.execute(
            select(Operation.id).where(Operation.pool_id == pool_id, Operation.status == "pending")
        ).scalars()
        ids = list(pending)
    for operation_id in ids:
        operations.process(str(operation_id), make.uow_factory)


# --- the manager's forms ------------------------------------------------------------------------------

FORM = "pages/manager_pool_form.py"
CALLS = "pages/manager_calls.py"
PORTFOLIO = "pages/manager_portfolio.py"
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
        if capped(at, "pool-new-name", value, 120):
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
        if capped(at, f"pool-{draft_id}-name", value, 120):
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
    # The manager's list of pools shows every name as text.
    at = goto(at, "pages/manager_pools.py")
    for value in (LINK, MARKUP, EMOJI):
        assert_shown_verbatim(at, value)


def test_capital_call_purpose_and_payment_reference(make: Any, uow_factory: Any) -> None:
    pool_id, boss, held = closed_pool(make, name=MARKUP)
    at = goto(logged_in(boss.username), CALLS, manager_pool_id=pool_id)
    assert_no_raw_markdown(at, [MARKUP])
    for value, reason in REFUSED:
        if capped(at, "call-purpose", value, 200):
            continue
        before = state()
        at.text_input(key="call-value").set_value("10")
        at.text_input(key="call-purpose").set_value(value)
        at = button(at, "Preview the call").click().run()
        assert_refused(at, "purpose", reason)
        assert state() == before
    for value in ACCEPTED:
        at.text_input(key="call-value").set_value("10")
        at.text_input(key="call-purpose").set_value(value)
        at = button(at, "Preview the call").click().run()
        assert not errors(at), errors(at)
        assert_shown_verbatim(at, value)  # "... for *<purpose>*" in the preview's markdown
    at = button(at, "Issue this call").click().run()  # the last one: EMOJI
    assert not at.exception and not errors(at), errors(at)
    process_pending(make, pool_id)
    with uow_factory() as uow:
        [purpose] = uow.session.execute(
            select(CapitalCall.purpose).where(CapitalCall.pool_id == pool_id)
        ).scalars()
    assert purpose == EMOJI
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert_shown_verbatim(at, EMOJI)

    # The payment form's reference.
    for value, reason in REFUSED:
        if capped(at, "pay-reference", value, 100):
            continue
        before = state()
        at.text_input(key="pay-amount").set_value("10")
        at.text_input(key="pay-reference").set_value(value)
        at = button(at, "Record the payment").click().run()
        assert_refused(at, "reference", reason)
        assert state() == before
    for index, value in enumerate(ACCEPTED, start=1):
        at.text_input(key="pay-amount").set_value(str(index))
        at.text_input(key="pay-reference").set_value(value)
        at = button(at, "Record the payment").click().run()
        assert not at.exception and not errors(at), (value, errors(at))
    process_pending(make, pool_id)
    with uow_factory() as uow:
        references = set(
            uow.session.execute(
                select(Operation.payload["reference"].astext).where(
                    Operation.pool_id == pool_id, Operation.kind == "payment", Operation.status == "done"
                )
            ).scalars()
        )
    assert references == set(ACCEPTED)


def test_investment_company_and_valuation_note(make: Any, uow_factory: Any) -> None:
    pool_id, boss, held = closed_pool(make)
    run_op(make, boss, pool_id, "capital_call", {"percent": "50", "purpose": "invest", "due_date": DUE})
    with uow_factory() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.amount_due).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).all()
    for item_id, amount in items:
        run_op(
            make, boss, pool_id, "payment", {"call_item_id": item_id, "amount": str(amount), "reference": "W"}
        )
    at = goto(logged_in(boss.username), PORTFOLIO, manager_pool_id=pool_id)
    for value, reason in REFUSED:
        before = state()
        if not capped(at, "inv-company", value, 120):
            at.text_input(key="inv-company").set_value(value)
            at.text_input(key="inv-amount").set_value("100")
            at = button(at, "Record").click().run()
            assert_refused(at, "company", reason)
            assert state() == before
        if capped(at, "val-note", value, 200):
            continue
        at.text_input(key="val-value").set_value("1")
        at.text_input(key="val-note").set_value(value)
        at = button(at, "Record the valuation").click().run()
        assert_refused(at, "note", reason)
        assert state() == before
    for index, value in enumerate(ACCEPTED, start=1):
        at.text_input(key="inv-company").set_value(value)
        at.text_input(key="inv-amount").set_value(str(100 * index))
        at = button(at, "Record").click().run()
        assert not at.exception and not errors(at), (value, errors(at))
        process_pending(make, pool_id)
    at = goto(at, PORTFOLIO, manager_pool_id=pool_id)
    for value in ACCEPTED:
        assert_shown_verbatim(at, value)  # the holdings table


# --- the investor's forms -----------------------------------------------------------------------------


def test_commit_form_and_investor_payment_reference(make: Any, uow_factory: Any) -> None:
    open_id, _ = make.pool(name=LINK)
    closed_id, boss, held = closed_pool(make, name=EMOJI)
    payer = held[0]
    run_op(make, boss, closed_id, "capital_call", {"percent": "50", "purpose": MARKUP, "due_date": DUE})
    at = goto(logged_in(payer.username), "pages/investor_open_pools.py")
    assert_no_raw_markdown(at, [LINK])
    for value in [SQL, LINK, SCRIPT, HUGE, CONTROL, RTL, EMOJI, "1e400", "NaN", "-5"]:
        before = state()
        at.selectbox(key="commit-pool").set_value(open_id)
        at.text_input(key="commit-amount").set_value(value)
        at = button(at, "Commit").click().run()
        assert not at.exception, at.exception
        assert any("amount" in e for e in errors(at)), (value[:30], errors(at))
        assert state() == before
    at.selectbox(key="commit-pool").set_value(open_id)
    at.text_input(key="commit-amount").set_value("50000")
    at = button(at, "Commit").click().run()
    assert not errors(at), errors(at)
    assert_no_raw_markdown(at, [LINK])  # "Commitment of ... to <name> submitted"

    at = goto(at, "pages/investor_capital_calls.py")
    assert_shown_verbatim(at, MARKUP)  # the call's purpose, in the table and the picker
    for value, reason in REFUSED:
        before = state()
        at.text_input(key="pay-amount").set_value("10")
        at.text_input(key="pay-reference").set_value(value)
        at = button(at, "Record payment").click().run()
        assert_refused(at, "reference", reason)
        assert state() == before
    at.text_input(key="pay-amount").set_value("10")
    at.text_input(key="pay-reference").set_value(LINK)
    at = button(at, "Record payment").click().run()
    assert not at.exception and not errors(at), errors(at)
    process_pending(make, closed_id)
    at = goto(at, "pages/investor_pool_detail.py")
    assert not at.exception, at.exception
    at = goto(at, "pages/investor_statements.py")
    assert_shown_verbatim(at, LINK)  # the payment's reference in the transactions
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
        assert_refused(at, "name", reason)
        assert state() == before
    for value in (SQL, LINK, "Ünïcødé 🚀", "a\x00b", "evil\u202e", SCRIPT, HUGE):
        before = state()
        at.text_input(key="new-username").set_value(value)
        at.text_input(key="new-name").set_value("Someone")
        at.text_input(key="new-email").set_value("someone@example.com")
        at = button(at, "Create").click().run()
        assert_refused(at, "username", "must be 3-64 characters")
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
        assert any("email" in e for e in errors(at)), (value[:30], errors(at))
        assert state() == before
    for index, value in enumerate(ACCEPTED):
        username = f"hostile-ok{index}"
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
        assert_shown_verbatim(at, value)
    # Invites (sign-in through the identity provider): the email and the name.
    if any(w.key == "invite-email" for w in at.text_input):
        for value in ("x\x00@example.com", "evil\u202e@example.com", SCRIPT, HUGE):
            before = state()
            at.text_input(key="invite-email").set_value(value)
            at = button(at, "Invite").click().run()
            assert not at.exception, at.exception
            assert any("email" in e for e in errors(at)), (value[:30], errors(at))
            assert state() == before
        for value, reason in REFUSED:
            before = state()
            at.text_input(key="invite-email").set_value("invited-hostile@example.com")
            at.text_input(key="invite-name").set_value(value)
            at = button(at, "Invite").click().run()
            assert_refused(at, "name", reason)
            assert state() == before
        at.text_input(key="invite-email").set_value("[click](javascript:alert(1))@example.com")
        at.text_input(key="invite-name").set_value(LINK)
        at = button(at, "Invite").click().run()
        assert not at.exception and not errors(at), errors(at)
        assert_no_raw_markdown(at, [LINK, "[click](javascript:alert(1))@example.com"])
    # The search box and the audit log's filters: any text, no crash, nothing written; what cannot be
    # a filter (control characters, 100 KB) is refused with the filter named.
    for value in (SQL, LINK, HUGE, "a\x00b", RTL, "%", "_", EMOJI):
        before = state()
        at.text_input(key="search").set_value(value)
        at = at.run()
        assert not at.exception, (value[:30], at.exception)
        if value in (HUGE, "a\x00b", RTL):
            assert any("search" in e for e in errors(at)), (value[:30], errors(at))
        assert state() == before
    at.text_input(key="search").set_value("")
    at = goto(at.run(), "pages/admin_audit.py")
    for label, field in (("Action contains", "action"), ("Who", "who"), ("Object id", "object_id")):
        [widget] = [w for w in at.text_input if w.label == label]
        for value in (SQL, LINK, HUGE, "a\x00b", RTL, EMOJI, "%_"):
            before = state()
            widget.set_value(value)
            at = at.run()
            assert not at.exception, (label, value[:30], at.exception)
            if value in (HUGE, "a\x00b", RTL):
                assert any(field in e for e in errors(at)), (label, value[:30], errors(at))
            assert state() == before
            [widget] = [w for w in at.text_input if w.label == label]
        widget.set_value("")
        at = at.run()
    at = goto(at, "pages/admin_exports.py")
    assert not at.exception, at.exception


# --- the analyst: hostile names in the explorer's filters and charts -------------------------------------


def test_analyst_pages_show_hostile_names_as_text(make: Any) -> None:
    for value in ACCEPTED:
        make.pool(name=value)
    analyst = make.user("analyst")
    at = goto(logged_in(analyst.username), "pages/analyst_explorer.py")
    assert_no_raw_markdown(at, ACCEPTED)
    at = goto(at, "pages/analyst_compare.py")
    chooser = at.multiselect[0]
    options = [o for o in chooser.options if any(v in o for v in ACCEPTED)]
    assert all(any(v in o for o in options) for v in ACCEPTED), chooser.options[:10]  # verbatim, as text
    at = chooser.set_value(options[:4]).run()
    assert_no_raw_markdown(at, ACCEPTED)
