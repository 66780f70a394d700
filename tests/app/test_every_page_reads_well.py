"""Every page of every role on the seeded demo (core.seed.seed_demo), through the real app (AppTest
from Home.py) on the real database, read as a fund's staff would read it (issue 15).

The sweep signs in as each demo user and opens every page of their navigation (app.webapp.PAGES), then
turns its views one at a time: each pool in a pool picker, each period, tab, radio and segmented
view, a chosen call, holding, posting or user. On every view `unreadable(at)` (tests.platform_seed)
must find nothing: no "None" or "nan", no Python dict or list, no float with more decimals than its
currency, no snake_case column name, no message starting with a field code. One test per user and
page, so a failure names the page.

The form tests send each form an invalid value (an empty, negative or unreadable amount, a due date
before the call date, ...): the refusal starts with the field's label as the form shows it, and a
form with several mistakes (the pool form, create user) names every one of them in one answer.
Nothing is written: every value is refused (the refusals are only audited).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select, text
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Multiselect

from app.webapp import PAGES
from core import bootstrap, clock
from core.errors import FIELD_LABELS
from core.seed import DEMO_USERS
from core.services import users
from db.models import Commitment, Payment, Pool, User
from tests.app.manager_support import goto, logged_in
from tests.platform_seed import unreadable

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
ROLE_OF = {username: role for username, _, role, *_ in DEMO_USERS}
CASES = [
    pytest.param(username, spec.path, id=f"{username}-{Path(spec.path).stem}")
    for username, _, role, *_ in DEMO_USERS
    for spec in PAGES[role]
]


@pytest.fixture(scope="module")
def demo() -> Iterator[dict[str, int]]:
    """The demo, seeded once per test database (another module may have seeded it already), with real
    bcrypt at its lowest cost (the app runs in this process, so it verifies these hashes too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        from core.seed import seed_demo

        with bootstrap.unit_of_work() as uow:
            seeded = uow.session.execute(select(User.id).where(User.username == "investor")).first()
        if seeded is None:
            seed_demo(bootstrap.unit_of_work)
        with bootstrap.unit_of_work() as uow:
            ids = dict(uow.session.execute(select(User.username, User.id)).all())
            ids |= {
                f"pool:{name}": pid for name, pid in uow.session.execute(text("SELECT name, id FROM pools"))
            }
        yield ids


def sign_in(username: str) -> AppTest:
    return logged_in(username, PASSWORDS[username])


def ran(at: Any) -> AppTest:
    """Run the page (after a widget was set: its run is the page's)."""
    at = at.run()
    assert not at.exception, at.exception
    return at


# --- the views of each page ---------------------------------------------------------------------------
# Each generator turns the page's views one at a time and yields a name for each, the page as it
# shows then. A view that depends on the demo (a pool with calls, a holding) is looked for, not assumed.


def pick(widget: Any, *labels: str) -> Any:
    """Choose options by their labels, as the browser does (it sends the label shown): the values
    behind a label (an id, a view) are the page's business, not the sweep's."""

    class Picked(type(widget)):  # type: ignore[misc]
        @property
        def _widget_state(self) -> WidgetState:
            state = WidgetState()
            state.id = self.id
            if isinstance(self, Multiselect):
                state.string_array_value.data[:] = list(labels)
            else:
                [state.string_value] = labels
            return state

    widget._assert_can_interact()
    widget.__class__ = Picked
    widget._value = labels
    return widget


def options(at: AppTest, kind: str, key: str) -> list[Any]:
    found = [w for w in getattr(at, kind) if w.key == key]
    return list(found[0].options) if found else []


def has(at: AppTest, kind: str, key: str) -> bool:
    return any(w.key == key for w in getattr(at, kind))


def investor_period(at: AppTest) -> Iterator[str]:
    """Each period of the range control (the custom one with its default dates)."""
    periods = options(at, "segmented_control", "investor_range")
    assert periods, "every investor page with figures has the period control"
    for period in periods:
        ran(at.segmented_control(key="investor_range").set_value(period))
        yield f"period {period}"
    ran(at.segmented_control(key="investor_range").set_value(periods[0]))


def investor_portfolio(at: AppTest) -> Iterator[str]:
    yield from investor_period(at)
    if [t.label for t in at.tabs]:
        for tab in ("Value over time", "Cash flows by month", "Allocation"):
            at.session_state["portfolio-charts"] = tab  # what a click on the tab does
            yield f"tab {tab}"
            ran(at)
        for measure in options(at, "segmented_control", "allocation-measure"):
            ran(at.segmented_control(key="allocation-measure").set_value(measure))
            yield f"allocation by {measure}"


def investor_pool_detail(at: AppTest) -> Iterator[str]:
    pools = [s for s in at.selectbox if s.label == "Pool"]
    if not pools:
        yield from investor_period(at)
        return
    for name in pools[0].options:
        ran(pick([s for s in at.selectbox if s.label == "Pool"][0], name))
        yield f"pool {name}"
    yield from investor_period(at)


def investor_statements(at: AppTest) -> Iterator[str]:
    for choice in options(at, "selectbox", "statement-pool"):
        ran(pick(at.selectbox(key="statement-pool"), choice))
        yield f"statement of {choice}"
    yield from investor_period(at)


def investor_open_pools(at: AppTest) -> Iterator[str]:
    yield "as it opens"
    for pool in options(at, "selectbox", "commit-0-pool"):
        ran(pick(at.selectbox(key="commit-0-pool"), pool))
        yield f"commit form on {pool}"


def investor_capital_calls(at: AppTest) -> Iterator[str]:
    yield "as it opens"
    for item in options(at, "selectbox", "pay-0-item"):
        ran(pick(at.selectbox(key="pay-0-item"), item))  # prefills the amount: the preview shows
        yield f"paying {item}"


def investor_documents(at: AppTest) -> Iterator[str]:
    yield "as it opens"
    for key in ("documents-notice", "documents-file"):
        for choice in options(at, "selectbox", key)[:3]:
            ran(pick(at.selectbox(key=key), choice))
            yield f"{key.split('-')[1]} {choice}"


def each_pool(at: AppTest) -> Iterator[str]:
    """Every pool of the manager's picker on this page."""
    pools = options(at, "selectbox", "manager_pool_picker")
    if not pools:
        yield "no pool picker"
        return
    for pool in pools:
        ran(pick(at.selectbox(key="manager_pool_picker"), pool))
        yield f"pool {pool}"


def manager_calls(at: AppTest) -> Iterator[str]:
    for pool in each_pool(at):
        if not has(at, "radio", "calls-view"):
            yield pool
            continue
        for view in options(at, "radio", "calls-view"):
            ran(at.radio(key="calls-view").set_value(view))
            yield f"{pool}, {view}"
            calls = [s for s in at.selectbox if s.label == "Capital call"]
            for call in calls[0].options if calls else []:
                ran(pick([s for s in at.selectbox if s.label == "Capital call"][0], call))
                yield f"{pool}, {call}"
                investors = [s for s in at.selectbox if s.label == "Investor"]
                if investors and investors[0].options:
                    ran(pick(investors[0], investors[0].options[0]))  # prefilled: the preview shows
                    yield f"{pool}, {call}, paying {investors[0].options[0]}"
        ran(at.radio(key="calls-view").set_value(options(at, "radio", "calls-view")[0]))


def manager_portfolio(at: AppTest) -> Iterator[str]:
    for pool in each_pool(at):
        yield pool
        for key in ("valuation-0-company", "exit-0-company"):
            for holding in options(at, "selectbox", key):
                ran(pick(at.selectbox(key=key), holding))
                yield f"{pool}, {key.split('-')[0]} of {holding}"


def manager_corrections(at: AppTest) -> Iterator[str]:
    for pool in each_pool(at):
        yield pool
        for posting in options(at, "selectbox", "correction-0-posting"):
            ran(pick(at.selectbox(key="correction-0-posting"), posting))
            yield f"{pool}, {posting}"


def manager_pool_form(at: AppTest) -> Iterator[str]:
    yield "a new pool"
    manager_id = at.session_state["actor"].user_id
    with bootstrap.unit_of_work() as uow:
        mine = uow.session.execute(select(Pool.id, Pool.name).where(Pool.manager_id == manager_id)).all()
    for pool_id, name in mine:
        at.session_state["edit_pool_id"] = pool_id
        ran(at)
        yield f"editing {name}"


def analyst_explorer(at: AppTest) -> Iterator[str]:
    for drafts in (False, True):
        ran(at.toggle[0].set_value(drafts))
        for tab in [t.label for t in at.tabs]:
            at.session_state["explorer-tab"] = tab  # what a click on the tab does
            ran(at)
            yield f"{tab} (drafts {drafts})"
            for key, kind in (("perf-metric", "radio"), ("flows-currency", "radio")):
                for choice in options(at, kind, key):
                    ran(getattr(at, kind)(key=key).set_value(choice))
                    yield f"{tab}, {choice} (drafts {drafts})"
            for view in options(at, "segmented_control", "pools-view"):
                ran(at.segmented_control(key="pools-view").set_value(view))
                yield f"{tab}, {view} columns (drafts {drafts})"


def analyst_compare(at: AppTest) -> Iterator[str]:
    yield "nothing chosen"
    picker = at.multiselect(key="compare-pools")
    for count in (1, 2, 5):
        ran(pick(at.multiselect(key="compare-pools"), *picker.options[:count]))
        yield f"{count} pools"


def admin_users(at: AppTest) -> Iterator[str]:
    yield "the list"
    for user in options(at, "selectbox", "chosen-user"):
        ran(pick(at.selectbox(key="chosen-user"), user))
        yield f"changing {user}"


def admin_exports(at: AppTest) -> Iterator[str]:
    reports = [s for s in at.selectbox if s.label == "Report"][0]
    for report in reports.options:
        ran(pick([s for s in at.selectbox if s.label == "Report"][0], report))
        yield report
    ran(at.checkbox(key="export-whole").uncheck())
    yield "a date range"


def admin_audit(at: AppTest) -> Iterator[str]:
    yield "the last 30 days"
    for outcome in ("Refused", "Ok"):
        ran(pick([s for s in at.selectbox if s.label == "Outcome"][0], outcome))
        yield f"outcome {outcome}"


PLACES = {"dollar": 2, "euro": 2, "yen": 0}
WRITTEN_MONEY = re.compile(r"[$€£¥][\d,]*\.\d{3,}\b|\b\d[\d,]*\.\d{3,} (?:USD|EUR|GBP|CHF|JPY|CAD|AUD|DKK)\b")


def finer_than_the_currency(at: AppTest) -> list[str]:
    """What unreadable() leaves to the currency: a money column holding more decimals than its
    format (its currency) shows, and an amount written with more decimals than cents."""
    found = []
    for table in at.dataframe:
        configured = json.loads(table.proto.columns) if table.proto.columns else {}
        for column in table.value.columns:
            shown = configured.get(str(column), {}).get("type_config", {}).get("format")
            places = PLACES.get(shown) if shown in PLACES else None
            if isinstance(shown, str) and (written := re.fullmatch(r"%,?\.(\d)f", shown)):
                places = int(written[1])
            if places is None:
                continue
            for value in table.value[column].dropna():
                exact = Decimal(str(value))
                if exact != exact.quantize(Decimal(1).scaleb(-places)):
                    found.append(f"{column!r} holds {value} in a column of {places} decimals")
    texts = [m.value for m in at.metric] + [
        e.value
        for kind in ("markdown", "caption", "info", "success", "warning", "error")
        for e in at.get(kind)
    ]
    found += [f"an amount past its cents: {t!r}" for t in texts if WRITTEN_MONEY.search(str(t))]
    return found


VIEWS: dict[str, Callable[[AppTest], Iterator[str]]] = {
    "pages/investor_portfolio.py": investor_portfolio,
    "pages/investor_pool_detail.py": investor_pool_detail,
    "pages/investor_statements.py": investor_statements,
    "pages/investor_open_pools.py": investor_open_pools,
    "pages/investor_capital_calls.py": investor_capital_calls,
    "pages/investor_documents.py": investor_documents,
    "pages/manager_pool_form.py": manager_pool_form,
    "pages/manager_calls.py": manager_calls,
    "pages/manager_portfolio.py": manager_portfolio,
    "pages/manager_corrections.py": manager_corrections,
    "pages/analyst_explorer.py": analyst_explorer,
    "pages/analyst_compare.py": analyst_compare,
    "pages/admin_users.py": admin_users,
    "pages/admin_exports.py": admin_exports,
    "pages/admin_audit.py": admin_audit,
}


def plain(at: AppTest) -> Iterator[str]:
    """A page whose only view is its pool: each of the manager's pools, or the page as it opens."""
    if has(at, "selectbox", "manager_pool_picker"):
        yield from each_pool(at)
    else:
        yield "as it opens"


@pytest.mark.parametrize(("username", "path"), CASES)
def test_every_view_of_the_page_reads_well(demo: dict[str, int], username: str, path: str) -> None:
    at = goto(sign_in(username), path)
    [title] = [t.value for t in at.title]
    assert not at.error, [e.value for e in at.error]
    found: dict[str, list[str]] = {}
    for view in VIEWS.get(path, plain)(at):
        assert not at.exception, (view, at.exception)
        assert len(at.title) == 1 and not at.error, (view, [e.value for e in at.error])
        found[view] = unreadable(at) + finer_than_the_currency(at)
    assert found, f"no view of {path} was looked at"
    shown = {view: problems for view, problems in found.items() if problems}
    assert not shown, f"{title} ({username}) shows what nobody should have to read: {shown}"


# --- forms refused in the user's words --------------------------------------------------------------

# A refusal starts with one of these (the users' words for each field), then says what is wrong.
LABELS = sorted(set(FIELD_LABELS.values()) | {"Full name", "Action", "Who"}, key=len, reverse=True)
FIELD_CODE = re.compile(r"^[a-z]+(?:_[a-z]+)*:")
INPUTS = ("text_input", "date_input", "selectbox", "radio", "number_input", "multiselect", "checkbox")


def refusals(at: AppTest) -> list[str]:
    """Every refusal on the page, one per line (a form's errors come as a list: "- Amount ...")."""
    lines = [line for element in at.error for line in element.value.splitlines()]
    return [re.sub(r"^- ", "", line).replace("\\", "") for line in lines if line.strip()]


def field_of(message: str) -> str | None:
    """The field a refusal names at its start, by its label ("Amount", "Due date"); None if it
    starts with anything else (a code such as `due_date:`, or no field at all)."""
    return next((label for label in LABELS if message.startswith(f"{label} ")), None)


def form_labels(at: AppTest) -> list[str]:
    return [widget.label.lower() for kind in INPUTS for widget in at.get(kind)]


def writes(uow_factory: Any = bootstrap.unit_of_work) -> dict[str, int]:
    """How many rows the tables a form could write hold: a refused form must change none."""
    counted = {"pools": Pool, "users": User, "commitments": Commitment, "payments": Payment}
    with uow_factory() as uow:
        out = {
            name: uow.session.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in counted.items()
        }
        out["journals"] = uow.session.execute(text("SELECT count(*) FROM journals")).scalar_one()
        out["operations"] = uow.session.execute(text("SELECT count(*) FROM operations")).scalar_one()
    return out


def growth(at: AppTest) -> AppTest:
    """The manager's pages on Growth SPV 2024, the demo pool with calls, holdings and cash."""
    return ran(pick(at.selectbox(key="manager_pool_picker"), "Growth SPV 2024 (investing)"))


def typed(at: AppTest, label: str, value: str) -> AppTest:
    """Type into the text field whose label starts with `label` (the form's own words)."""
    [field] = [w for w in at.text_input if w.label.startswith(label)]
    return ran(field.set_value(value))


def press(at: AppTest, label: str) -> AppTest:
    [found] = [b for b in at.button if b.label == label and not b.disabled]
    return ran(found.click())


def commit_empty(at: AppTest) -> AppTest:
    ran(pick(at.selectbox(key="commit-0-pool"), "Seed Fund I"))
    return press(typed(at, "Amount", ""), "Commit")


def commit_negative(at: AppTest) -> AppTest:
    ran(pick(at.selectbox(key="commit-0-pool"), "Seed Fund I"))
    return press(typed(at, "Amount", "-5000"), "Commit")


def investor_pays_negative(at: AppTest) -> AppTest:
    ran(pick(at.selectbox(key="pay-0-item"), at.selectbox(key="pay-0-item").options[0]))
    return typed(at, "Amount", "-5")


def call_empty_percentage(at: AppTest) -> AppTest:
    growth(at)
    typed(at, "Purpose", "Follow-on")
    return press(typed(at, "Percentage of commitments", ""), "Preview the call")


def call_empty_amount(at: AppTest) -> AppTest:
    ran(growth(at).radio(key="capital-call-0-mode").set_value("An amount"))
    typed(at, "Purpose", "Follow-on")
    return press(typed(at, "Amount", ""), "Preview the call")


def call_due_before_it_is_made(at: AppTest) -> AppTest:
    growth(at)
    typed(at, "Purpose", "Follow-on")
    typed(at, "Percentage of commitments", "5")
    at.date_input(key="capital-call-0-due").set_value(clock.today() - timedelta(days=3))
    return press(at, "Preview the call")


def manager_records_unreadable_payment(at: AppTest) -> AppTest:
    ran(growth(at).radio(key="calls-view").set_value("Calls and payments"))
    [investor] = [s for s in at.selectbox if s.label == "Investor"]
    ran(pick(investor, investor.options[0]))
    return typed(at, "Amount received", "fifty thousand")


def accept_negative(at: AppTest) -> AppTest:
    [amount] = [w for w in at.text_input if w.label == "Accept amount"]
    return ran(amount.set_value("-5"))


def invest_negative(at: AppTest) -> AppTest:
    typed(growth(at), "Company", "Zeta Robotics")
    return typed(at, "Amount paid", "-5")


def value_negative(at: AppTest) -> AppTest:
    holding = growth(at).selectbox(key="valuation-0-company")
    ran(pick(holding, holding.options[0]))
    return typed(at, "New value of the holding", "-1")


def exit_negative(at: AppTest) -> AppTest:
    holding = growth(at).selectbox(key="exit-0-company")
    ran(pick(holding, holding.options[0]))
    return typed(at, "Proceeds received", "-1")


def fee_backwards(at: AppTest) -> AppTest:
    growth(at).date_input(key="fee-0-start").set_value(clock.today())
    at.date_input(key="fee-0-end").set_value(clock.today() - timedelta(days=30))
    return press(at, "Preview the fee")


def expense_over_precise(at: AppTest) -> AppTest:
    return typed(growth(at), "Expense amount", "12.345")


def distribute_empty(at: AppTest) -> AppTest:
    return press(typed(growth(at), "Proceeds to distribute", ""), "Preview the waterfall")


def distribute_more_than_cash(at: AppTest) -> AppTest:
    return press(typed(growth(at), "Proceeds to distribute", "999999999"), "Preview the waterfall")


def invite_bad_email(at: AppTest) -> AppTest:
    at.text_input(key="invite-email").set_value("not an address")
    return press(at, "Invite")


def audit_filter_too_long(at: AppTest) -> AppTest:
    return typed(at, "Action contains", "x" * 500)


# name: (who, page, what they do, the field named)
FORMS: dict[str, tuple[str, str, Callable[[AppTest], AppTest], str]] = {
    "commit with no amount": ("investor", "pages/investor_open_pools.py", commit_empty, "Amount"),
    "commit a negative amount": ("investor", "pages/investor_open_pools.py", commit_negative, "Amount"),
    "pay a negative amount": (
        "investor",
        "pages/investor_capital_calls.py",
        investor_pays_negative,
        "Amount",
    ),
    "call an empty percentage": ("manager", "pages/manager_calls.py", call_empty_percentage, "Percentage"),
    "call an empty amount": ("manager", "pages/manager_calls.py", call_empty_amount, "Amount"),
    "call due before its date": ("manager", "pages/manager_calls.py", call_due_before_it_is_made, "Due date"),
    "record a payment in words": (
        "manager",
        "pages/manager_calls.py",
        manager_records_unreadable_payment,
        "Amount",
    ),
    "accept a negative amount": ("manager", "pages/manager_commitments.py", accept_negative, "Amount"),
    "invest a negative amount": ("manager", "pages/manager_portfolio.py", invest_negative, "Amount"),
    "value a holding below zero": ("manager", "pages/manager_portfolio.py", value_negative, "Value"),
    "exit for negative proceeds": ("manager", "pages/manager_portfolio.py", exit_negative, "Proceeds"),
    "a fee period backwards": ("manager", "pages/manager_portfolio.py", fee_backwards, "Period end"),
    "an over-precise fund expense": (
        "manager",
        "pages/manager_portfolio.py",
        expense_over_precise,
        "Amount",
    ),
    "distribute nothing": ("manager", "pages/manager_distributions.py", distribute_empty, "Proceeds"),
    "distribute more than the cash": (
        "manager",
        "pages/manager_distributions.py",
        distribute_more_than_cash,
        "Proceeds",
    ),
    "invite a bad email": ("admin", "pages/admin_users.py", invite_bad_email, "Email"),
    "an audit filter too long": ("admin", "pages/admin_audit.py", audit_filter_too_long, "Action"),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_refused_form_names_the_field_by_its_label(demo: dict[str, int], form: str) -> None:
    username, path, act, field = FORMS[form]
    at = goto(sign_in(username), path)
    before = writes()
    at = act(at)
    assert not at.exception, at.exception
    said = refusals(at)
    assert said, f"{form}: nothing was refused"
    labels = form_labels(at)
    for message in said:
        assert not FIELD_CODE.match(message), f"{form}: a field code, not a label: {message!r}"
        named = field_of(message)
        assert named is not None, f"{form}: {message!r} does not start with a field's label"
        assert any(named.lower() in label for label in labels), (
            f"{form}: {message!r} names {named!r}, which is not a field of this form: {labels}"
        )
    assert field in {field_of(m) for m in said}, (form, said)
    assert not re.search(r"\d\.\d{3,}|\d{7,}", " ".join(said)), f"{form}: a raw amount in {said}"
    assert writes() == before, f"{form}: a refused form wrote something"


def test_the_pool_form_names_every_mistake_at_once_by_its_label(demo: dict[str, int]) -> None:
    at = goto(sign_in("manager"), "pages/manager_pool_form.py")
    before = writes()
    bad = {
        "Name": "",
        "Target size": "five million",
        "Minimum ticket": "-10",
        "Maximum ticket": "100.001",
        "Management fee %": "15",
        "Carry %": "-5",
        "Hurdle %": "abc",
    }
    for label, value in bad.items():
        [field] = [w for w in at.text_input if w.label == label]
        field.set_value(value)
    at = ran(at.button[[b.label for b in at.button].index("Save draft")].click())
    said = refusals(at)
    beside = {field_of(m) for m in said} - {None}
    assert beside == {
        "Name",
        "Target size",
        "Hard cap",  # left empty
        "Minimum ticket",
        "Maximum ticket",
        "Management fee",
        "Carry",
        "Hurdle",
    }, said
    assert said[0] == "Nothing was saved: 8 fields need attention, each shown below it.", said
    for message in said[1:]:
        assert not FIELD_CODE.match(message) and field_of(message) is not None, message
    assert writes() == before


def test_create_user_names_every_mistake_at_once_by_its_label(demo: dict[str, int]) -> None:
    at = goto(sign_in("admin"), "pages/admin_users.py")
    before = writes()
    at.text_input(key="new-username").set_value("Not A Username!")
    at.text_input(key="new-name").set_value("   ")
    at.text_input(key="new-email").set_value("nobody-at-example.com")
    at = press(at, "Create")
    said = refusals(at)
    assert [field_of(m) for m in said] == ["Username", "Name", "Email"], said
    labels = form_labels(at)
    assert all(field_of(m).lower() in " ".join(labels) for m in said)  # type: ignore[union-attr]
    assert writes() == before
    # A taken username is said with the rest, not after them.
    at.text_input(key="new-username").set_value("investor")
    at.text_input(key="new-name").set_value("Ivy Again")
    at.text_input(key="new-email").set_value("nobody-at-example.com")
    at = press(at, "Create")
    assert [m.split(" ")[0] for m in refusals(at)] == ["Username", "Email"], refusals(at)
    assert "already taken" in refusals(at)[0]
    assert writes() == before
