"""What an investor cannot reach (AppTest): other roles' pages, and another investor's data by id,
whether the id comes in the URL or is planted in the session state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app import investor_ui as ui
from app.webapp import PAGES
from core import bootstrap, clock, operations
from core.services import calls, pools, users
from db.models import CallItem, CapitalCall, Entry, Journal, Operation
from tests.conftest import Factory

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"
NOT_AVAILABLE = "This page is not available to you."
TIMEOUT = 60
INVESTOR_PAGES = [spec.path for spec in PAGES["investor"]]
OTHER_PAGES = sorted({spec.path for role, specs in PAGES.items() if role != "investor" for spec in specs})


@pytest.fixture(scope="module", autouse=True)
def fast_bcrypt() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        yield


@pytest.fixture(scope="module")
def make(fast_bcrypt: None) -> Factory:
    return Factory(bootstrap.unit_of_work)


@pytest.fixture(scope="module")
def someone_elses(make: Factory) -> dict[str, Any]:
    """A closed pool the owner is in, and an outsider with a pool of their own."""
    pool_id, manager = make.pool(name="Private Owner Fund")
    _, owner = make.commitment(pool_id, amount="100000", accept_as=manager)
    with bootstrap.unit_of_work() as uow:
        pools.close_pool(manager, uow, pool_id)
    own_pool, own_manager = make.pool(name="Outsider Fund")
    _, outsider = make.commitment(own_pool, amount="50000", accept_as=own_manager)
    return {"pool": pool_id, "owner": owner, "outsider": outsider, "own_pool": own_pool}


def log_in(username: str) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    at = at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_an_investor_gets_exactly_the_investor_pages(make: Factory) -> None:
    at = log_in(make.user("investor").username)
    registered = {Path(str(info.get("script_path"))).resolve() for info in at._registered_pages.values()}
    assert {(ROOT / page).resolve() for page in INVESTOR_PAGES} <= registered
    for page in OTHER_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    for page in INVESTOR_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert NOT_AVAILABLE not in [e.value for e in at.error]


def test_other_roles_pages_refuse_an_investor_run_directly(make: Factory) -> None:
    """A hidden page is not a permission check: each page checks the role itself."""
    person = make.user("investor")
    for page in OTHER_PAGES:
        at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
        at.session_state["actor"] = person
        at.run()
        assert [e.value for e in at.error] == [NOT_AVAILABLE], page
        assert not at.dataframe and not at.metric, page


def test_investor_pages_refuse_every_other_role(make: Factory) -> None:
    others = [make.user(role) for role in ("fund_manager", "analyst", "admin")]
    for index, page in enumerate(INVESTOR_PAGES):
        actor = others[index % len(others)]  # every page one role, every role some pages
        at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
        at.session_state["actor"] = actor
        at.run()
        assert not at.exception, (page, actor.role, at.exception)
        assert [e.value for e in at.error] == [NOT_AVAILABLE], (page, actor.role)
        assert not at.dataframe and not at.metric


def shows_nothing_of_the_pool(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["you may not see this pool"]
    assert not at.metric and not at.dataframe
    assert "Private Owner Fund" not in [h.value for h in at.header]


def test_another_investors_pool_in_the_url_is_refused(someone_elses: dict[str, Any]) -> None:
    at = log_in(someone_elses["outsider"].username)
    at.query_params["pool"] = str(someone_elses["pool"])
    at.switch_page("pages/investor_pool_detail.py").run()
    shows_nothing_of_the_pool(at)
    # The way back to their own pools.
    at = next(b for b in at.button if b.label == "Show my own pools").click().run()
    assert "Outsider Fund" in [h.value for h in at.header]


def test_another_investors_pool_planted_in_the_session_is_refused(someone_elses: dict[str, Any]) -> None:
    at = log_in(someone_elses["outsider"].username)
    at.session_state[ui.POOL_KEY] = someone_elses["pool"]
    at.switch_page("pages/investor_pool_detail.py").run()
    shows_nothing_of_the_pool(at)

    at = log_in(someone_elses["outsider"].username)
    at.session_state["statement-pool"] = someone_elses["pool"]
    at.switch_page("pages/investor_statements.py").run()
    shows_nothing_of_the_pool(at)
    assert not at.get("download_button")


def test_the_owner_sees_their_pool(someone_elses: dict[str, Any]) -> None:
    at = log_in(someone_elses["owner"].username)
    at.query_params["pool"] = str(someone_elses["pool"])
    at.switch_page("pages/investor_pool_detail.py").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert "Private Owner Fund" in [h.value for h in at.header]
    assert {m.label: m.value for m in at.metric}["Committed"] == "$100,000.00"


def test_a_malformed_pool_id_is_refused_cleanly(someone_elses: dict[str, Any]) -> None:
    at = log_in(someone_elses["outsider"].username)
    at.query_params["pool"] = "1 OR 1=1"
    at.switch_page("pages/investor_pool_detail.py").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["no pool -1"]
    assert not at.metric


def issued_call(make: Factory, pool_name: str) -> tuple[Any, int]:
    """A closed pool with one investor and an issued call to them: the investor and their item id."""
    today = date.today()
    with clock.travel(today - timedelta(days=10)):
        pool_id, manager = make.pool(name=pool_name)
        _, person = make.commitment(pool_id, amount="100000", accept_as=manager)
        with bootstrap.unit_of_work() as uow:
            pools.close_pool(manager, uow, pool_id)
    request = {
        "percent": "25",
        "purpose": f"{pool_name} call",
        "due_date": (today + timedelta(days=10)).isoformat(),
    }
    with bootstrap.unit_of_work() as uow:
        status = calls.issue(manager, uow, calls.preview(manager, uow, pool_id, request).command)
    assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"
    with bootstrap.unit_of_work() as uow:
        item_id = uow.session.execute(
            select(CallItem.id).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    return person, item_id


def writes() -> dict[str, Any]:
    """What a payment would write: operations, journals and entries, and every call item's payments."""
    with bootstrap.unit_of_work() as uow:
        found: dict[str, Any] = {
            model.__tablename__: uow.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Operation, Journal, Entry)
        }
        found["paid"] = dict(uow.session.execute(select(CallItem.id, CallItem.amount_paid)).all())
        return found


def test_another_investors_call_item_planted_in_the_session_is_refused(make: Factory) -> None:
    """The payment form keeps the chosen call item's id under its key; another investor's id put
    there is dropped with a message before anything is shown or sent, and no item of the payer's
    takes its place: nothing is written."""
    payer, own_item = issued_call(make, "Payer Fund")
    _, foreign_item = issued_call(make, "Victim Fund")
    before = writes()
    at = log_in(payer.username)
    at.session_state["pay-0-item"] = foreign_item  # the form's choice on a fresh session
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    assert "no longer open" in " ".join(w.value for w in at.warning)
    assert at.selectbox(key="pay-0-item").value is None
    assert at.text_input(key="pay-0-amount").value == "" and not at.get("progress")
    assert at.button(key="pay-0-confirm-ask").disabled
    assert "Victim Fund" not in " ".join(
        str(e.value) for kind in ("markdown", "caption", "warning") for e in at.get(kind)
    )
    assert "_following" not in at.session_state or ui.PAY_FORM not in at.session_state["_following"]
    assert writes() == before

    # The payer's own item is there to choose, and choosing it offers its own amount, nothing else.
    at.selectbox(key="pay-0-item").set_value(own_item).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert at.text_input(key="pay-0-amount").value == "25000.00"
    assert writes() == before
