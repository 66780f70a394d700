"""A manager cannot see or act on another manager's pool by any route: the pages, an id planted in
session state, or a direct service call. Other roles cannot open the manager's pages at all."""

from __future__ import annotations

from datetime import date
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.webapp import PAGES
from core import operations
from core.errors import PermissionDenied
from core.services import (
    calls,
    commitments,
    corrections,
    distributions,
    fees,
    investments,
    payments,
    pools,
    users,
)
from core.views import manager
from db.models import CapitalCall, Journal, Operation
from tests.app.manager_support import (
    CORRECTIONS,
    ROOT,
    TIMEOUT,
    errors,
    goto,
    logged_in,
    page_text,
    post,
    with_corrections_page,
)

MANAGER_PAGES = sorted({spec.path for spec in PAGES["fund_manager"]} | {CORRECTIONS})
POOL_PAGES = [p for p in MANAGER_PAGES if p not in ("pages/manager_pools.py", "pages/manager_pool_form.py")]
REFUSED = "only the pool's manager may do this"
SECRET = "Secret Fund"


@pytest.fixture(autouse=True)
def setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )
    with_corrections_page(monkeypatch)


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    """The owner runs a closed pool with a posted call (and a pending commitment elsewhere); the
    intruder, another manager, runs a closed pool of their own so every page has something to show."""
    pool_id, owner = make.pool(name=SECRET, hard_cap="2000000")
    make.commitment(pool_id, amount="100000", accept_as=owner)
    make.commitment(pool_id, amount="200000", accept_as=owner)
    pending_id, _ = make.commitment(pool_id, amount="50000")
    with make.uow_factory() as uow:
        pools.close_pool(owner, uow, pool_id)
    call = post(
        make.uow_factory,
        date.today(),
        calls.preview,
        calls.issue,
        owner,
        pool_id,
        {"percent": "10", "purpose": "x"},
    )
    intruder = make.user("fund_manager")
    own_id, _ = make.pool(intruder, name="Intruder Fund")
    make.commitment(own_id, amount="100000", accept_as=intruder)
    with make.uow_factory() as uow:
        pools.close_pool(intruder, uow, own_id)
        call_id = uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    return {
        "pool_id": pool_id,
        "owner": owner,
        "intruder": intruder,
        "own_id": own_id,
        "operation_id": str(call.id),
        "call_id": call_id,
        "pending_id": pending_id,
    }


def ledger_size(make: Any) -> tuple[int, int]:
    with make.uow_factory() as uow:
        return (
            uow.session.execute(select(func.count()).select_from(Journal)).scalar_one(),
            uow.session.execute(select(func.count()).select_from(Operation)).scalar_one(),
        )


def test_the_pages_never_list_another_managers_pool(world: dict[str, Any]) -> None:
    at = logged_in(world["intruder"].username)
    assert "Intruder Fund" in [s.value for s in at.subheader]
    assert SECRET not in page_text(at)
    for page in POOL_PAGES:
        at = goto(at, page)
        assert SECRET not in page_text(at), page
        [picker] = [s for s in at.selectbox if s.label == "Pool"]
        assert picker.options == ["Intruder Fund (closed)"], page


def test_ids_planted_in_session_state_are_refused(world: dict[str, Any], make: Any) -> None:
    before = ledger_size(make)
    at = logged_in(world["intruder"].username)
    for page in POOL_PAGES:  # the pool every page works on
        at = goto(at, page, manager_pool_id=world["pool_id"])
        assert any(REFUSED in e for e in errors(at)), (page, errors(at))
        assert SECRET not in page_text(at)
        assert not at.dataframe and not at.get("plotly_chart") and not at.metric, page
    # The pool the form edits.
    at = goto(at, "pages/manager_pool_form.py", edit_pool_id=world["pool_id"])
    assert any(REFUSED in e for e in errors(at)), errors(at)
    assert SECRET not in page_text(at)
    assert not [t for t in at.text_input if t.key and t.key.startswith(f"pool-{world['pool_id']}")]
    # The operation a progress bar follows.
    at.session_state["_following"] = {"capital-call": world["operation_id"]}
    at = goto(at, "pages/manager_calls.py", manager_pool_id=world["own_id"])
    assert any("you may not see this operation" in e for e in errors(at)), errors(at)
    assert not at.get("progress")
    at.run()  # and it is no longer followed
    assert not any("you may not see this operation" in e for e in errors(at))
    with make.uow_factory() as uow:
        assert pools.load_pool(uow, world["pool_id"]).name == SECRET
    assert ledger_size(make) == before


def test_direct_service_calls_on_another_managers_pool_are_refused(world: dict[str, Any], make: Any) -> None:
    intruder, pool_id = world["intruder"], world["pool_id"]
    before = ledger_size(make)
    attempts = [
        (manager.managed_pool, (pool_id,)),
        (manager.commitment_book, (pool_id,)),
        (manager.scale_down_plan, (pool_id,)),
        (manager.call_book, (pool_id,)),
        (manager.investor_balances, (pool_id,)),
        (manager.call_items, (world["call_id"],)),
        (manager.call_payments, (world["call_id"],)),
        (manager.call_notice_csv, (world["call_id"],)),
        (manager.portfolio, (pool_id,)),
        (manager.distributions, (pool_id,)),
        (manager.corrections_of, (pool_id,)),
        (manager.dashboard, (pool_id,)),
        (manager.returns, (pool_id,)),
        (calls.preview, (pool_id, {"percent": "10", "purpose": "x"})),
        (distributions.preview, (pool_id, {"proceeds": "1"})),
        (fees.preview, (pool_id, {"period_start": "2026-01-01", "period_end": "2026-02-01"})),
        (investments.preview_investment, (pool_id, {"company": "X", "amount": "1"})),
        (corrections.correctable, (pool_id,)),
        (payments.read_statement, (world["call_id"], b"email,amount,reference,received_on\n")),
        (pools.lifecycle, (pool_id,)),
        (pools.update_pool_terms, (pool_id, {"close_date": "2099-01-01"})),
        (pools.close_pool, (pool_id,)),
        (commitments.accept_commitment, (world["pending_id"],)),
        (commitments.reject_commitment, (world["pending_id"],)),
    ]
    for service, args in attempts:
        with make.uow_factory() as uow, pytest.raises(PermissionDenied):
            service(intruder, uow, *args)
    with make.uow_factory() as uow, pytest.raises(PermissionDenied):
        operations.operation_status(intruder, uow, world["operation_id"])
    assert ledger_size(make) == before


def test_other_roles_cannot_open_the_managers_pages(make: Any) -> None:
    others = [make.user(role) for role in ("investor", "analyst", "admin")]
    for page in MANAGER_PAGES:
        at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()  # nobody logged in
        assert errors(at) == ["This page is not available to you."], page
        for actor in others:
            at.session_state["actor"] = actor
            at.run()
            assert not at.exception, at.exception
            assert errors(at) == ["This page is not available to you."], (page, actor.role)
            assert not at.button and not at.text_input and not at.dataframe


def test_an_investor_cannot_navigate_to_a_managers_page(make: Any) -> None:
    at = logged_in(make.user("investor").username)
    for page in MANAGER_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
