"""Who may call what: one table over every public service function, discovered from the code.

Every public function in core/services/*.py, core/views/*.py and core/operations whose first
parameter is an Actor
has a row here (and operations.submit one row per operation kind); a service without a row fails
test_every_service_has_a_row. Each row is called as every actor of the world below: an investor
and a fund manager who own the objects named, another investor and another manager who do not, an
investor with no commitment anywhere, an analyst and an admin. A call the row does not allow must
raise PermissionDenied, write nothing to the business tables and leave exactly one 'refused' audit
row (writes under their action, reads as read.<module>.<service>; a step that runs inside its
caller's transaction leaves the auditing to that caller). Every row also has actors who succeed,
so no refusal can pass because the call was broken.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select, text

import core.operations
import core.services
import core.views
from core import bootstrap, clock, operations
from core.errors import PermissionDenied
from core.operations import KINDS
from core.permissions import Actor
from core.services import (
    approvals,
    audit,
    calls,
    commitments,
    corrections,
    distributions,
    documents,
    expenses,
    exports,
    fees,
    health,
    investments,
    notices,
    payments,
    platform,
    pools,
    users,
    winddown,
)
from core.views import investor, manager
from db.models import Approval, CallItem, CapitalCall, Notice, Operation
from tests.conftest import Factory
from tests.workers import BUSINESS_TABLES, table_state

TODAY = date.today()
DUE = (TODAY + timedelta(days=14)).isoformat()
PERIOD = investor.period_for("inception")

# Tables a service may write (the audit log is checked on its own).
INVESTOR, OTHER_INVESTOR, OUTSIDER = "investor", "other_investor", "outsider"
MANAGER, OTHER_MANAGER, ANALYST, ADMIN = "manager", "other_manager", "analyst", "admin"
ACTORS = (INVESTOR, OTHER_INVESTOR, OUTSIDER, MANAGER, OTHER_MANAGER, ANALYST, ADMIN)
INVESTORS = frozenset({INVESTOR, OTHER_INVESTOR, OUTSIDER})
MANAGERS = frozenset({MANAGER, OTHER_MANAGER})
READERS = frozenset({ANALYST, ADMIN})
# Who may read one investor's position (the investor's, in their manager's pool): the investor, the
# pool's manager and the platform readers; never another investor or another manager.
POSITION = frozenset({INVESTOR, MANAGER, *READERS})
# Who may see the (closed) pool: its manager, readers, and the investors who committed to it.
POOL_SEEN = frozenset({INVESTOR, OTHER_INVESTOR, MANAGER, *READERS})


def fast_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


@dataclass
class World:
    """Every object a row names; reads use them as they are, writes build fresh ones per call."""

    make: Factory
    actors: dict[str, Actor]
    pool_id: int  # closed, the manager's: a paid call, cash, an investment, marks
    open_pool_id: int  # open, the manager's: a pending commitment of the investor
    fresh_pool_id: int  # open, nobody committed yet (the commit form's check)
    commitment_id: int  # the investor's accepted commitment to pool_id
    pending_id: int  # the investor's pending commitment to open_pool_id
    call_id: int
    item_id: int  # the investor's call item (part paid)
    operation_id: uuid.UUID  # the investor's payment operation
    export_id: uuid.UUID  # a finished background export
    company_id: int  # Acme, held by pool_id, marked
    notice_id: int = 0  # the investor's capital call notice of call_id, rendered (in the app)
    document_id: int = 0  # its document in the vault
    shared_id: int = 0  # a document the manager shared with pool_id's investors

    def actor(self, name: str) -> Actor:
        return self.actors[name]


def process(
    make: Factory, actor: Actor, pool_id: int | None, kind: str, payload: dict[str, Any]
) -> uuid.UUID:
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    assert operations.process(str(status.id), make.uow_factory) == "done"
    return status.id


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", fast_hash)
        make = Factory(bootstrap.unit_of_work)
        actors = {
            name: make.user(role)
            for name, role in (
                (INVESTOR, "investor"),
                (OTHER_INVESTOR, "investor"),
                (OUTSIDER, "investor"),
                (MANAGER, "fund_manager"),
                (OTHER_MANAGER, "fund_manager"),
                (ANALYST, "analyst"),
                (ADMIN, "admin"),
            )
        }
        boss = actors[MANAGER]
        make.pool(actors[OTHER_MANAGER])  # the other manager runs a pool of their own
        pool_id, _ = make.pool(boss)
        commitment_id, _ = make.commitment(pool_id, actors[INVESTOR], "100000", accept_as=boss)
        make.commitment(pool_id, actors[OTHER_INVESTOR], "100000", accept_as=boss)
        with make.uow_factory() as uow:
            pools.close_pool(boss, uow, pool_id)
        process(make, boss, pool_id, "capital_call", {"percent": "50", "purpose": "first", "due_date": DUE})
        with make.uow_factory() as uow:
            items = {
                row.investor_id: (row.id, row.call_id)
                for row in uow.session.execute(
                    select(CallItem.id, CallItem.investor_id, CallItem.call_id)
                    .join(CapitalCall)
                    .where(CapitalCall.pool_id == pool_id)
                )
            }
        item_id, call_id = items[actors[INVESTOR].user_id]
        other_item, _ = items[actors[OTHER_INVESTOR].user_id]
        operation_id = process(
            make,
            actors[INVESTOR],
            pool_id,
            "payment",
            {"call_item_id": item_id, "amount": "10000", "reference": "W1"},
        )
        process(
            make, boss, pool_id, "payment", {"call_item_id": other_item, "amount": "50000", "reference": "W2"}
        )
        process(make, boss, pool_id, "investment", {"company": "Acme", "amount": "20000"})
        with make.uow_factory() as uow:
            (acme,) = investments.holdings(uow, pool_id)
        process(
            make,
            boss,
            pool_id,
            "valuation",
            {"company_id": acme.company_id, "value": "25000", "note": "mark"},
        )
        open_pool_id, _ = make.pool(boss)
        pending_id, _ = make.commitment(open_pool_id, actors[INVESTOR], "50000")
        fresh_pool_id, _ = make.pool(boss)
        with make.uow_factory() as uow:
            started = exports.start_export(
                actors[ADMIN],
                uow,
                "commitments",
                request_key=secrets.token_hex(8),
                enqueue=False,
                inline_limit=0,
            )
        assert started.operation_id is not None
        assert operations.process(str(started.operation_id), make.uow_factory) == "done"
        while True:  # the call's notices, rendered into the vault as the workers would
            with make.uow_factory() as uow:
                rendered = notices.render_pending(uow)
                uow.commit()
            if not rendered.count:
                break
        with make.uow_factory() as uow:
            notice_id, document_id = uow.session.execute(
                select(Notice.id, Notice.document_id).where(
                    Notice.call_id == call_id, Notice.investor_id == actors[INVESTOR].user_id
                )
            ).one()
            shared = documents.upload(
                boss, uow, pool_id, kind="agreement", title="LPA", filename="lpa.pdf", data=PDF
            )
        yield World(
            make,
            actors,
            pool_id,
            open_pool_id,
            fresh_pool_id,
            commitment_id,
            pending_id,
            call_id,
            item_id,
            operation_id,
            started.operation_id,
            acme.company_id,
            notice_id,
            document_id,
            shared.id,
        )


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hash_password", fast_hash)


# --- the table -------------------------------------------------------------------------------------

Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One service: how to call it about its object, who may, and what a refusal leaves behind.

    args(world, uow) builds the arguments after (actor, uow); for writes it is called afresh for
    every actor, so each call finds its object as the rightful actor would (a pending commitment,
    a draft pool). kind: "write" (commits; a refusal is audited under `action`), "read" (a refusal
    is audited as read.*) or "step" (runs inside its caller's transaction and never commits; the
    caller audits).
    """

    name: str
    service: Callable[..., Any]
    allowed: frozenset[str]
    args: Callable[[World, Any], Args] = lambda w, uow: ((), {})
    kind: str = "read"
    action: str = ""  # a write's; a read's when it audits its refusals under a name of its own
    check: Callable[[Any, World, str], bool] = field(default=lambda result, world, actor: True)
    tables: tuple[str, ...] = ()  # written besides the business tables (notices, documents)


def a(*args: Any, **kwargs: Any) -> Args:
    return args, kwargs


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
WIRE = {
    "bank_name": "Harbor Bank",
    "account_name": "Harbor Fund LP",
    "account_number": "GB82 WEST 1234 5698 7654 32",
    "bank_code": "NWBKGB2L",
}


def new_key() -> str:
    return f"table:{secrets.token_hex(8)}"


# Fresh objects for writes.


def draft(w: World) -> int:
    return w.make.pool(w.actor(MANAGER), status="draft")[0]


def open_pool(w: World) -> int:
    return w.make.pool(w.actor(MANAGER))[0]


def co_managed(w: World) -> tuple[int, int]:
    """A fresh pool of the manager's with a co-manager: (pool, co-manager)."""
    pool_id, co = open_pool(w), w.make.user("fund_manager").user_id
    with w.make.uow_factory() as uow:
        pools.add_manager(w.actor(MANAGER), uow, pool_id, co)
    return pool_id, co


def pending_of_someone(w: World) -> int:
    """A pending commitment to the manager's open pool, by an investor created for it."""
    return w.make.commitment(w.open_pool_id, amount="10000")[0]


def pending_of_investor(w: World) -> int:
    """A pending commitment of the world's investor (to a pool of its own: one live per pool)."""
    return w.make.commitment(open_pool(w), w.actor(INVESTOR), "10000")[0]


def someone(w: World) -> int:
    return w.make.user("investor").user_id


def locked_someone(w: World) -> int:
    user_id = someone(w)
    with w.make.uow_factory() as uow:
        uow.session.execute(
            text(
                "UPDATE users SET locked_until = now() + interval '1 hour', failed_logins = 5 WHERE id = :id"
            ),
            {"id": user_id},
        )
        uow.commit()
    return user_id


def pool(uow: Any, pool_id: int) -> Any:
    return pools.load_pool(uow, pool_id)


def a_fact(w: World) -> uuid.UUID:
    """A fresh posted fact to correct: another mark of Acme, processed as a worker would."""
    value = str(25000 + int(secrets.token_hex(2), 16))
    return process(
        w.make, w.actor(MANAGER), w.pool_id, "valuation", {"company_id": w.company_id, "value": value}
    )


def failed_operation(w: World) -> str:
    """A failed operation of the manager's (an admin may send it round again)."""
    with w.make.uow_factory() as uow:
        status = operations.submit(
            w.actor(MANAGER),
            uow,
            w.pool_id,
            "valuation",
            {"company_id": w.company_id, "value": "25000"},
            idempotency_key=new_key(),
        )
    with w.make.uow_factory() as uow:
        uow.session.execute(
            text("UPDATE operations SET status = 'failed', error = 'test' WHERE id = :id"), {"id": status.id}
        )
        uow.commit()
    return str(status.id)


def past_pool(w: World) -> tuple[int, date]:
    """A closed pool of the manager's whose investor committed in the last quarter, and that quarter's end."""
    start, _ = notices.quarter_of(notices.quarter_of(TODAY)[0] - timedelta(days=1))
    with clock.travel(start + timedelta(days=3)):
        pool_id = w.make.pool(w.actor(MANAGER))[0]
        w.make.commitment(pool_id, amount="10000", accept_as=w.actor(MANAGER))
        with w.make.uow_factory() as uow:
            pools.close_pool(w.actor(MANAGER), uow, pool_id)
    return pool_id, notices.quarter_of(start)[1]


def failed_notice(w: World) -> int:
    """A copy of the investor's call notice whose email failed (a manager or an admin may send it again)."""
    with w.make.uow_factory() as uow:
        notice = Notice(
            key=new_key(),
            kind="capital_call",
            pool_id=w.pool_id,
            investor_id=w.actor(INVESTOR).user_id,
            call_id=w.call_id,
            call_item_id=w.item_id,
            amount=Decimal("50000"),
            status="failed",
            attempts=4,
            last_error="550 mailbox unavailable",
            document_id=w.document_id,
        )
        uow.session.add(notice)
        uow.session.flush()
        notice_id = notice.id
        uow.commit()
    return notice_id


def documents_seen(found: Any, w: World, who: str) -> bool:
    """The investor's own notice: them, their manager, an admin; the shared one: the pool's people."""
    ids = {d.id for d in found}
    return (w.document_id in ids) == (who in POSITION - {ANALYST}) and (w.shared_id in ids) == (
        who in POOL_SEEN
    )


def export_operation(w: World, uow: Any) -> Operation:
    """A pending background export, as the worker's run_job_batch receives it."""
    with w.make.uow_factory() as other:
        started = exports.start_export(
            w.actor(ADMIN), other, "commitments", request_key=new_key(), enqueue=False, inline_limit=0
        )
    return uow.session.get(Operation, started.operation_id)


def submit_row(kind: str, allowed: frozenset[str], pool: Callable[[World], int | None], payload: Any) -> Row:
    return Row(
        f"core.operations.submit[{kind}]",
        operations.submit,
        allowed,
        lambda w, uow: a(pool(w), kind, payload(w), idempotency_key=new_key()),
        kind="write",
        action="operation.submit",
    )


def manager_read(name: str, *extra: Any, pool: str = "pool_id", **kwargs: Any) -> Row:
    service = getattr(manager, name)
    return Row(
        f"core.views.manager.{name}",
        service,
        frozenset({MANAGER}),
        lambda w, uow: a(getattr(w, pool), *extra, **kwargs),
    )


def position_read(name: str, *, pool: bool = False) -> Row:
    """An investor-position read about the world's investor (their id given explicitly)."""
    service = getattr(investor, name)
    if name == "portfolio_overview":
        build: Callable[[World, Any], Args] = lambda w, uow: a(  # noqa: E731
            PERIOD, investor_id=w.actor(INVESTOR).user_id
        )
    elif name == "pool_detail":
        build = lambda w, uow: a(w.pool_id, PERIOD, investor_id=w.actor(INVESTOR).user_id)  # noqa: E731
    elif name == "capital_calls":
        build = lambda w, uow: a(w.actor(INVESTOR).user_id)  # noqa: E731
    elif pool:
        build = lambda w, uow: a(PERIOD, w.pool_id, w.actor(INVESTOR).user_id)  # noqa: E731
    else:
        build = lambda w, uow: a(PERIOD, None, w.actor(INVESTOR).user_id)  # noqa: E731
    return Row(f"core.views.investor.{name}{'[pool]' if pool else ''}", service, POSITION, build)


def preview(
    module: Any, name: str, request: Callable[[World], dict[str, Any]], allowed: frozenset[str]
) -> Row:
    """A concept's preview: a read, checked exactly as the operation it previews."""
    return Row(
        f"{module.__name__}.{name}",
        getattr(module, name),
        allowed,
        lambda w, uow: a(w.pool_id, request(w)),
    )


def check(module: Any, name: str, request: Callable[[World], dict[str, Any]], allowed: frozenset[str]) -> Row:
    """A concept's one validation, run inside its caller's transaction (preview or submission)."""
    return Row(
        f"{module.__name__}.{name}",
        getattr(module, name),
        allowed,
        lambda w, uow: a(pool(uow, w.pool_id), request(w)),
        kind="step",
    )


def command_row(
    module: Any, name: str, make_command: Callable[[World, Any], Any], allowed: frozenset[str]
) -> Row:
    """A typed command submitted through its concept (a write: refused in operations.submit)."""
    return Row(
        f"{module.__name__}.{name}",
        getattr(module, name),
        allowed,
        lambda w, uow: a(make_command(w, uow)),
        kind="write",
        action="operation.submit",
    )


def call_request(w: World) -> dict[str, Any]:
    return {"percent": "1", "purpose": f"more {secrets.token_hex(3)}"}


def payment_request(w: World) -> dict[str, Any]:
    return {"call_item_id": w.item_id, "amount": "1", "reference": f"W-{secrets.token_hex(4)}"}


def fee_request(w: World) -> dict[str, Any]:
    return {"period_start": TODAY.isoformat(), "period_end": (TODAY + timedelta(days=30)).isoformat()}


def expense_request(w: World) -> dict[str, Any]:
    return {"category": "legal", "amount": "1", "memo": f"invoice {secrets.token_hex(3)}"}


def windable(w: World) -> int:
    """A fresh closed pool of the manager's with nothing held, owed or left to pay out."""
    return w.make.pool(w.actor(MANAGER), status="closed")[0]


def buy_request(w: World) -> dict[str, Any]:
    return {"company": f"Beta {secrets.token_hex(3)}", "amount": "1"}


def mark_request(w: World) -> dict[str, Any]:
    return {"company_id": w.company_id, "value": str(25000 + int(secrets.token_hex(2), 16))}


def exit_request(w: World) -> dict[str, Any]:
    return {"company_id": w.company_id, "proceeds": "30000"}


def distribution_request(w: World) -> dict[str, Any]:
    return {"proceeds": "1", "memo": f"payout {secrets.token_hex(3)}"}


def drafted(w: World) -> int:
    """A fresh distribution drafted by the manager, awaiting approval."""
    with w.make.uow_factory() as uow:
        return approvals.draft(w.actor(MANAGER), uow, w.pool_id, "distribution", distribution_request(w))


def approved_request(w: World) -> dict[str, Any]:
    """The request of a draft the admin approved (marked so here, its posting not yet submitted)."""
    approval_id = drafted(w)
    with w.make.uow_factory() as uow:
        approval = uow.session.get(Approval, approval_id)
        approval.status, approval.decided_by = "approved", w.actor(ADMIN).user_id
        request = dict(approval.request)
        uow.commit()
    return {**request, "approval_id": approval_id}


def correction_request(w: World) -> dict[str, Any]:
    return {"operation_id": str(a_fact(w)), "reason": "test correction"}


def previewed(
    module: Any, name: str, request: Callable[[World], dict[str, Any]]
) -> Callable[[World, Any], Any]:
    """The command its rightful actor previewed (the manager's, unless an investor's payment)."""
    return lambda w, uow: getattr(module, name)(w.actor(MANAGER), uow, w.pool_id, request(w)).command


TABLE: list[Row] = [
    # --- pools ---
    Row(
        "core.services.pools.create_pool",
        pools.create_pool,
        MANAGERS,
        lambda w, uow: a(Factory.terms()),
        kind="write",
        action="pool.create",
    ),
    Row(
        "core.services.pools.pool_managers",
        pools.pool_managers,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(w.pool_id),
        check=lambda found, w, who: found.managers[0].user_id == w.actor(MANAGER).user_id,
    ),
    Row(
        "core.services.pools.manager_candidates",
        pools.manager_candidates,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(w.pool_id),
        check=lambda found, w, who: w.actor(OTHER_MANAGER).user_id in {m.user_id for m in found},
    ),
    Row(
        "core.services.pools.add_manager",
        pools.add_manager,
        frozenset({MANAGER, ADMIN}),  # the lead manager or an admin
        lambda w, uow: a(open_pool(w), w.make.user("fund_manager").user_id),
        kind="write",
        action="pool.add_manager",
    ),
    Row(
        "core.services.pools.remove_manager",
        pools.remove_manager,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(*co_managed(w)),
        kind="write",
        action="pool.remove_manager",
    ),
    Row(
        "core.services.pools.set_call_approval_threshold",
        pools.set_call_approval_threshold,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(open_pool(w), "250000"),
        kind="write",
        action="pool.call_approval_threshold",
    ),
    Row(
        "core.services.pools.update_pool_terms",
        pools.update_pool_terms,
        frozenset({MANAGER}),
        lambda w, uow: a(draft(w), Factory.terms(name="Renamed")),
        kind="write",
        action="pool.update_terms",
    ),
    Row(
        "core.services.pools.open_pool",
        pools.open_pool,
        frozenset({MANAGER}),
        lambda w, uow: a(draft(w)),
        kind="write",
        action="pool.open",
    ),
    Row(
        "core.services.pools.close_pool",
        pools.close_pool,
        frozenset({MANAGER}),
        lambda w, uow: a(open_pool(w)),
        kind="write",
        action="pool.close",
    ),
    Row("core.services.pools.get_pool", pools.get_pool, POOL_SEEN, lambda w, uow: a(w.pool_id)),
    Row(
        "core.services.pools.list_pools",
        pools.list_pools,
        frozenset(ACTORS),
        check=lambda found, w, who: (w.pool_id in {p.id for p in found}) == (who in POOL_SEEN),
    ),
    Row("core.services.pools.fundraising", pools.fundraising, POOL_SEEN, lambda w, uow: a(w.pool_id)),
    Row("core.services.pools.pool_version", pools.pool_version, POOL_SEEN, lambda w, uow: a(w.pool_id)),
    # --- commitments ---
    Row(
        "core.services.commitments.submit_commitment",
        commitments.submit_commitment,
        INVESTORS,
        lambda w, uow: a(open_pool(w), "20000"),
        kind="write",
        action="commitment.submit",
    ),
    Row(
        "core.services.commitments.accept_commitment",
        commitments.accept_commitment,
        frozenset({MANAGER}),
        lambda w, uow: a(pending_of_someone(w)),
        kind="write",
        action="commitment.accept",
    ),
    Row(
        "core.services.commitments.reject_commitment",
        commitments.reject_commitment,
        frozenset({MANAGER}),
        lambda w, uow: a(pending_of_someone(w)),
        kind="write",
        action="commitment.reject",
    ),
    Row(
        "core.services.commitments.withdraw_commitment",
        commitments.withdraw_commitment,
        frozenset({INVESTOR}),
        lambda w, uow: a(pending_of_investor(w)),
        kind="write",
        action="commitment.withdraw",
    ),
    Row(
        "core.services.commitments.settle",
        commitments.settle,
        frozenset({MANAGER}),
        lambda w, uow: a(pending_of_someone(w), "10000"),
        kind="step",
        check=lambda value, w, who: value == Decimal("10000"),
    ),
    Row(
        "core.services.commitments.get_commitment",
        commitments.get_commitment,
        POSITION,
        lambda w, uow: a(w.commitment_id),
    ),
    Row(
        "core.services.commitments.list_commitments",
        commitments.list_commitments,
        frozenset(ACTORS) - {OTHER_MANAGER},
        lambda w, uow: a(pool_id=w.pool_id),
        check=lambda found, w, who: (
            {c.investor_id for c in found} == {w.actor(who).user_id}
            if who in (INVESTOR, OTHER_INVESTOR)
            else found == []
            if who == OUTSIDER
            else len(found) == 2
        ),
    ),
    Row(
        "core.services.commitments.settle_many",
        commitments.settle_many,
        frozenset({MANAGER}),
        lambda w, uow: a(
            commitments.SettleMany(
                w.open_pool_id, ((pending_of_someone(w), None),), pool(uow, w.open_pool_id).version
            )
        ),
        kind="write",
        action="operation.submit",
    ),
    # --- concepts: previews, their one check, their commands ---
    preview(calls, "preview", call_request, frozenset({MANAGER})),
    command_row(calls, "issue", previewed(calls, "preview", call_request), frozenset({MANAGER})),
    preview(payments, "preview", payment_request, frozenset({INVESTOR, MANAGER})),
    Row(
        "core.services.payments.check_many",
        payments.check_many,
        frozenset({INVESTOR, MANAGER}),
        lambda w, uow: a(pool(uow, w.pool_id), [payment_request(w)]),
        kind="step",
    ),
    command_row(
        payments, "record", previewed(payments, "preview", payment_request), frozenset({INVESTOR, MANAGER})
    ),
    Row(
        "core.services.payments.record_many",
        payments.record_many,
        frozenset({INVESTOR, MANAGER}),
        lambda w, uow: a(w.pool_id, [previewed(payments, "preview", payment_request)(w, uow)]),
        kind="write",
        action="operation.submit",
    ),
    Row(
        "core.services.payments.read_statement",
        payments.read_statement,
        frozenset({MANAGER}),
        lambda w, uow: a(
            w.call_id,
            f"investor_id,amount,reference,received_on\n{w.actor(INVESTOR).user_id},1.00,W,{TODAY}\n".encode(),
        ),
        check=lambda lines, w, who: (
            [(line.command.call_item_id, line.command.amount) for line in lines]
            == [(w.item_id, Decimal("1.00"))]
        ),
    ),
    preview(fees, "preview", fee_request, frozenset({MANAGER})),
    check(fees, "check", fee_request, frozenset({MANAGER})),
    command_row(fees, "charge", previewed(fees, "preview", fee_request), frozenset({MANAGER})),
    preview(expenses, "preview", expense_request, frozenset({MANAGER})),
    check(expenses, "check", expense_request, frozenset({MANAGER})),
    command_row(expenses, "record", previewed(expenses, "preview", expense_request), frozenset({MANAGER})),
    Row(
        "core.services.winddown.preview",
        winddown.preview,
        frozenset({MANAGER}),
        lambda w, uow: a(windable(w), {}),
    ),
    Row(
        "core.services.winddown.check",
        winddown.check,
        frozenset({MANAGER}),
        lambda w, uow: a(pool(uow, windable(w)), {}),
        kind="step",
    ),
    command_row(
        winddown,
        "wind_down",
        lambda w, uow: winddown.preview(w.actor(MANAGER), uow, windable(w), {}).command,
        frozenset({MANAGER}),
    ),
    preview(investments, "preview_investment", buy_request, frozenset({MANAGER})),
    check(investments, "check_investment", buy_request, frozenset({MANAGER})),
    command_row(
        investments, "invest", previewed(investments, "preview_investment", buy_request), frozenset({MANAGER})
    ),
    preview(investments, "preview_mark", mark_request, frozenset({MANAGER})),
    check(investments, "check_mark", mark_request, frozenset({MANAGER})),
    command_row(
        investments, "mark", previewed(investments, "preview_mark", mark_request), frozenset({MANAGER})
    ),
    preview(investments, "preview_exit", exit_request, frozenset({MANAGER})),
    check(investments, "check_exit", exit_request, frozenset({MANAGER})),
    Row(
        "core.services.investments.exit_holding",
        investments.exit_holding,
        frozenset({MANAGER}),
        # Submitted, not processed: Acme stays held for the other rows.
        lambda w, uow: a(previewed(investments, "preview_exit", exit_request)(w, uow)),
        kind="write",
        action="operation.submit",
    ),
    preview(distributions, "preview", distribution_request, frozenset({MANAGER})),
    Row(
        "core.services.distributions.deals",
        distributions.deals,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id),
    ),
    # --- approval by a second person ---
    Row(
        "core.services.approvals.draft",
        approvals.draft,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id, "distribution", distribution_request(w)),
        kind="write",
        action="approval.draft",
    ),
    Row(
        "core.services.approvals.approve",
        approvals.approve,
        frozenset({ADMIN}),  # the manager drafted it: another manager of the pool or an admin approves
        lambda w, uow: a(drafted(w)),
        kind="write",
        action="approval.approve",
    ),
    Row(
        "core.services.approvals.reject",
        approvals.reject,
        frozenset({ADMIN}),
        lambda w, uow: a(drafted(w), "Not yet"),
        kind="write",
        action="approval.reject",
    ),
    Row(
        "core.services.approvals.withdraw",
        approvals.withdraw,
        frozenset({MANAGER}),
        lambda w, uow: a(drafted(w), "Duplicate"),
        kind="write",
        action="approval.withdraw",
    ),
    Row(
        "core.services.approvals.waiting_everywhere",
        approvals.waiting_everywhere,
        frozenset({ADMIN}),
        lambda w, uow: (drafted(w), a())[1],  # one waiting whatever the rows before decided
        check=lambda found, w, who: any(p.pool_id == w.pool_id for p in found),
    ),
    Row(
        "core.services.approvals.approvals",
        approvals.approvals,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(w.pool_id, "distribution"),
        check=lambda found, w, who: bool(found.waiting),
    ),
    Row(
        "core.services.corrections.correctable",
        corrections.correctable,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(w.pool_id),
        check=lambda found, w, who: any(c.kind == "payment" for c in found),
    ),
    preview(corrections, "preview", correction_request, frozenset({MANAGER, ADMIN})),
    check(corrections, "check", correction_request, frozenset({MANAGER, ADMIN})),
    command_row(
        corrections,
        "reverse",
        previewed(corrections, "preview", correction_request),
        frozenset({MANAGER, ADMIN}),
    ),
    Row("core.services.pools.lifecycle", pools.lifecycle, frozenset({MANAGER}), lambda w, uow: a(w.pool_id)),
    Row(
        "core.services.pools.require_unchanged",
        pools.require_unchanged,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id, pool(uow, w.pool_id).version),
    ),
    # --- the investor's pages ---
    position_read("portfolio_overview"),
    position_read("pool_detail"),
    position_read("capital_calls"),
    Row("core.views.investor.call_item", investor.call_item, POSITION, lambda w, uow: a(w.item_id)),
    Row("core.views.investor.open_pools", investor.open_pools, INVESTORS),
    position_read("statement"),
    position_read("statement", pool=True),
    position_read("capital_account_csv"),
    position_read("transactions_csv", pool=True),
    # --- the manager's pages ---
    manager_read("managed_pool"),
    Row("core.views.manager.pool_versions", manager.pool_versions, MANAGERS),
    Row("core.views.manager.my_pools", manager.my_pools, MANAGERS),
    manager_read("commitment_book", pool="open_pool_id"),
    manager_read("scale_down_plan", pool="open_pool_id"),
    manager_read("call_book"),
    manager_read("investor_balances"),
    manager_read("call_items", pool="call_id"),
    manager_read("call_payments", pool="call_id"),
    manager_read("call_notice_csv", pool="call_id"),
    manager_read("portfolio"),
    manager_read("distributions"),
    manager_read("corrections_of"),
    manager_read("returns"),
    manager_read("dashboard"),
    manager_read("carry_statement"),
    # --- notices and the document vault ---
    Row(
        "core.services.notices.wire_instructions",
        notices.wire_instructions,
        frozenset({INVESTOR, OTHER_INVESTOR, MANAGER, ADMIN}),
        lambda w, uow: a(w.pool_id),
    ),
    Row(
        "core.services.notices.set_wire_instructions",
        notices.set_wire_instructions,
        frozenset({MANAGER}),
        lambda w, uow: a(draft(w), WIRE),
        kind="write",
        action="pool.wire_instructions",
    ),
    Row(
        "core.services.notices.reminders",
        notices.reminders,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id),
    ),
    Row(
        "core.services.notices.set_reminders",
        notices.set_reminders,
        frozenset({MANAGER}),
        lambda w, uow: a(draft(w), days_before="5, 2", overdue_every_days="3"),
        kind="write",
        action="pool.reminders",
    ),
    Row(
        "core.services.notices.payment_instructions",
        notices.payment_instructions,
        POSITION - {ANALYST},
        lambda w, uow: a(w.item_id),
        check=lambda shown, w, who: shown.call_item_id == w.item_id,
    ),
    Row(
        "core.services.notices.issue_statements",
        notices.issue_statements,
        frozenset({MANAGER}),
        lambda w, uow: a(*past_pool(w)),
        kind="write",
        action="notice.statements",
        check=lambda written, w, who: written == 1,
        tables=("notices",),
    ),
    Row(
        "core.services.notices.inbox",
        notices.inbox,
        frozenset({INVESTOR, ADMIN}),
        lambda w, uow: a(investor_id=w.actor(INVESTOR).user_id),
        check=lambda found, w, who: w.notice_id in {n.id for n in found},
    ),
    Row(
        "core.services.notices.unread_count",
        notices.unread_count,
        frozenset({INVESTOR, ADMIN}),
        lambda w, uow: a(investor_id=w.actor(INVESTOR).user_id),
    ),
    Row(
        "core.services.notices.mark_read",
        notices.mark_read,
        frozenset({INVESTOR, ADMIN}),
        lambda w, uow: a(w.notice_id),
        action="notice.read",
    ),
    Row(
        "core.services.notices.open_notice",
        notices.open_notice,
        frozenset({INVESTOR, ADMIN}),
        lambda w, uow: a(w.notice_id),
        action="notice.open",
        check=lambda opened, w, who: (
            opened.document.id == w.document_id and opened.content.startswith(b"%PDF")
        ),
    ),
    Row(
        "core.services.notices.notified",
        notices.notified,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(call_id=w.call_id),
        check=lambda found, w, who: w.notice_id in {n.notice_id for n in found},
    ),
    Row(
        "core.services.notices.notified_counts",
        notices.notified_counts,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(call_id=w.call_id),
        check=lambda counts, w, who: counts.total >= 1,
    ),
    Row(
        "core.services.notices.reissue",
        notices.reissue,
        frozenset({MANAGER}),
        lambda w, uow: a(w.notice_id, "Corrected wire instructions"),
        kind="write",
        action="notice.reissue",
        tables=("notices",),
    ),
    Row("core.services.notices.delivery", notices.delivery, frozenset({ADMIN})),
    Row(
        "core.services.notices.retry",
        notices.retry,
        frozenset({MANAGER, ADMIN}),
        lambda w, uow: a(failed_notice(w)),
        kind="write",
        action="notice.retry",
        tables=("notices",),
    ),
    Row(
        "core.services.documents.visible",
        documents.visible,
        frozenset(ACTORS),
        lambda w, uow: a(pool_id=w.pool_id),
        check=documents_seen,
    ),
    Row(
        "core.services.documents.pool_documents",
        documents.pool_documents,
        frozenset(ACTORS),
        lambda w, uow: a(w.pool_id),
        check=documents_seen,
    ),
    Row(
        "core.services.documents.document",
        documents.document,
        POSITION - {ANALYST},
        lambda w, uow: a(w.document_id),
        action="document.read",
    ),
    Row(
        "core.services.documents.versions",
        documents.versions,
        POSITION - {ANALYST},
        lambda w, uow: a(w.document_id),
        action="document.read",
        check=lambda found, w, who: [d.id for d in found] == [w.document_id],
    ),
    Row(
        "core.services.documents.download",
        documents.download,
        POSITION - {ANALYST},
        lambda w, uow: a(w.document_id),
        action="document.download",
        check=lambda got, w, who: got.content.startswith(b"%PDF"),
    ),
    Row(
        "core.services.documents.preview_upload",
        documents.preview_upload,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id, kind="report", title="Quarterly report", filename="q3.pdf", data=PDF),
        check=lambda shown, w, who: (shown.version, shown.content_type) == (1, "application/pdf"),
    ),
    Row(
        "core.services.documents.upload",
        documents.upload,
        frozenset({MANAGER}),
        lambda w, uow: a(w.pool_id, kind="report", title="Quarterly report", filename="q3.pdf", data=PDF),
        kind="write",
        action="document.upload",
        tables=("documents",),
    ),
    # --- the analyst's explorer ---
    Row("core.services.platform.explorer_options", platform.explorer_options, READERS),
    Row("core.services.platform.explorer_flows", platform.explorer_flows, READERS),
    Row("core.services.platform.compare_choices", platform.compare_choices, READERS),
    Row("core.services.platform.explorer", platform.explorer, READERS),
    Row(
        "core.services.platform.compare_pools",
        platform.compare_pools,
        READERS,
        lambda w, uow: a([w.pool_id]),
    ),
    # --- administration ---
    Row(
        "core.services.users.create_user",
        users.create_user,
        frozenset({ADMIN}),
        lambda w, uow: a(
            f"u{secrets.token_hex(5)}",
            name="Someone",
            email="someone@example.com",
            role="investor",
            password="long-enough-password",
        ),
        kind="write",
        action="user.create",
    ),
    Row(
        "core.services.users.set_role",
        users.set_role,
        frozenset({ADMIN}),
        lambda w, uow: a(someone(w), "analyst"),
        kind="write",
        action="user.set_role",
    ),
    Row(
        "core.services.users.set_kyc_status",
        users.set_kyc_status,
        frozenset({ADMIN}),
        lambda w, uow: a(someone(w), "rejected"),
        kind="write",
        action="user.set_kyc",
    ),
    Row(
        "core.services.users.set_active",
        users.set_active,
        frozenset({ADMIN}),
        lambda w, uow: a(someone(w), False),
        kind="write",
        action="user.set_active",
    ),
    Row(
        "core.services.users.unlock_user",
        users.unlock_user,
        frozenset({ADMIN}),
        lambda w, uow: a(locked_someone(w)),
        kind="write",
        action="user.unlock",
    ),
    Row(
        "core.services.users.invite_user",
        users.invite_user,
        frozenset({ADMIN}),
        lambda w, uow: a(f"invited-{secrets.token_hex(5)}@example.com", role="investor"),
        kind="write",
        action="user.invite",
    ),
    Row("core.services.users.list_users", users.list_users, frozenset({ADMIN})),
    Row("core.services.audit.list_audit", audit.list_audit, frozenset({ADMIN})),
    Row("core.services.health.health", health.health, frozenset({ADMIN})),
    Row(
        "core.services.health.retry_operation",
        health.retry_operation,
        frozenset({ADMIN}),
        lambda w, uow: a(failed_operation(w)),
        kind="write",
        action="operation.retry",
    ),
    Row(
        "core.services.exports.start_export",
        exports.start_export,
        frozenset({ADMIN}),
        lambda w, uow: a("commitments", request_key=new_key(), enqueue=False, inline_limit=0),
        kind="write",
        action="export.request",
        check=lambda started, w, who: started.operation_id is not None and started.rows > 0,
    ),
    Row(
        "core.services.exports.export_to",
        exports.export_to,
        frozenset({ADMIN}),
        lambda w, uow: a("commitments", io.BytesIO()),
        check=lambda rows, w, who: rows > 0,
    ),
    Row(
        "core.services.exports.prepare_job",
        exports.prepare_job,
        frozenset({ADMIN}),
        lambda w, uow: a({"report": "commitments"}),
        kind="step",
    ),
    Row(
        "core.services.exports.run_job_batch",
        exports.run_job_batch,
        frozenset({ADMIN}),
        lambda w, uow: a(export_operation(w, uow)),
        kind="step",
    ),
    Row("core.services.exports.recent_exports", exports.recent_exports, frozenset({ADMIN})),
    Row(
        "core.services.exports.export_file",
        exports.export_file,
        frozenset({ADMIN}),
        lambda w, uow: a(w.export_id),
    ),
    # --- durable operations ---
    submit_row(
        "settle_commitment",
        frozenset({MANAGER}),
        lambda w: w.open_pool_id,
        lambda w: {"commitments": [{"id": pending_of_someone(w)}]},
    ),
    submit_row(
        "capital_call",
        frozenset({MANAGER}),
        lambda w: w.pool_id,
        lambda w: {"percent": "1", "purpose": "more", "due_date": DUE},
    ),
    submit_row(
        "payment",
        frozenset({INVESTOR, MANAGER}),
        lambda w: w.pool_id,
        lambda w: {"call_item_id": w.item_id, "amount": "1", "reference": "WIRE"},
    ),
    Row(
        "core.operations.submit_many",
        operations.submit_many,
        frozenset({INVESTOR, MANAGER}),
        lambda w, uow: a(
            w.pool_id,
            "payment",
            [{"call_item_id": w.item_id, "amount": "1", "reference": "STATEMENT"}],
            idempotency_keys=[new_key()],
        ),
        kind="write",
        action="operation.submit",
    ),
    submit_row("management_fee", frozenset({MANAGER}), lambda w: w.pool_id, fee_request),
    submit_row("fund_expense", frozenset({MANAGER}), lambda w: w.pool_id, expense_request),
    submit_row("wind_down", frozenset({MANAGER}), windable, lambda w: {}),
    submit_row("investment", frozenset({MANAGER}), lambda w: w.pool_id, buy_request),
    submit_row("valuation", frozenset({MANAGER}), lambda w: w.pool_id, mark_request),
    submit_row("exit", frozenset({MANAGER}), lambda w: w.pool_id, exit_request),
    # Only an approved draft is posted, by the one who approved it (here the admin).
    submit_row("distribution", frozenset({ADMIN}), lambda w: w.pool_id, approved_request),
    submit_row("reversal", frozenset({MANAGER, ADMIN}), lambda w: w.pool_id, correction_request),
    submit_row("export", frozenset({ADMIN}), lambda w: None, lambda w: {"report": "commitments"}),
    Row(
        "core.operations.operation_status",
        operations.operation_status,
        frozenset({INVESTOR, MANAGER, ADMIN}),
        lambda w, uow: a(w.operation_id),
        check=lambda status, w, who: status.status == "done",
    ),
    Row(
        "core.operations.operation_statuses",
        operations.operation_statuses,
        frozenset({INVESTOR, MANAGER, ADMIN}),
        lambda w, uow: a([w.operation_id]),
        check=lambda statuses, w, who: [s.status for s in statuses] == ["done"],
    ),
    Row("core.operations.list_operations", operations.list_operations, frozenset({ADMIN})),
    Row(
        "core.operations.retry",
        operations.retry,
        frozenset({ADMIN}),
        lambda w, uow: a(failed_operation(w)),
        kind="write",
        action="operation.retry",
    ),
]


# --- discovery -------------------------------------------------------------------------------------


def _modules() -> list[Any]:
    found = []
    for package in (core.services, core.views, core.operations):
        found.append(package)
        found += [
            importlib.import_module(f"{package.__name__}.{m.name}")
            for m in pkgutil.iter_modules(package.__path__)
        ]
    return found


def public_services() -> set[str]:
    """Every public function defined in a service module whose first parameter is the Actor."""
    names = set()
    for module in _modules():
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            parameters = list(inspect.signature(inspect.unwrap(function)).parameters.values())
            if parameters and (parameters[0].annotation in (Actor, "Actor") or parameters[0].name == "actor"):
                if function is operations.submit:
                    names |= {f"{module.__name__}.{name}[{kind}]" for kind in KINDS}
                else:
                    names.add(f"{module.__name__}.{name}")
    return names


def test_every_service_has_a_row() -> None:
    covered = {row.name.removesuffix("[pool]") for row in TABLE}
    discovered = public_services()
    missing = sorted(discovered - covered)
    assert not missing, f"public services without a row in the access table: {missing}"
    stale = sorted(covered - discovered)
    assert not stale, f"rows for services that no longer exist: {stale}"
    for row in TABLE:
        target = row.service
        base = row.name.split("[", 1)[0]
        assert f"{target.__module__}.{target.__name__}" == base, row.name
        assert row.allowed, f"{row.name}: nobody may call it"
        assert set(ACTORS) - row.allowed or row.check is not Row.check, f"{row.name}: no refusal, no scope"
        assert row.kind in ("read", "write", "step") and (row.kind != "write" or row.action)


def test_discovery_finds_what_it_should() -> None:
    """The guard itself: it sees services in every module, operations included."""
    discovered = public_services()
    assert "core.views.manager.dashboard" in discovered
    assert "core.services.payments.record" in discovered
    assert "core.operations.retry" in discovered
    assert "core.operations.submit[payment]" in discovered
    assert "core.services.users.login_record" not in discovered  # no Actor: before anyone logs in


# --- the calls -------------------------------------------------------------------------------------


def state(tables: tuple[str, ...] = ()) -> dict[str, tuple[Any, ...]]:
    return table_state(bootstrap.unit_of_work, BUSINESS_TABLES + tables)


def audit_mark() -> int:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()


def audits_since(mark: int) -> list[tuple[Any, ...]]:
    with bootstrap.unit_of_work() as uow:
        return [
            tuple(r)
            for r in uow.session.execute(
                text(
                    "SELECT action, actor_id, outcome, reason FROM audit_log "
                    "WHERE id > :id AND outcome = 'refused' ORDER BY id"
                ),
                {"id": mark},
            )
        ]


def call(row: Row, world: World, actor_name: str) -> tuple[Any, dict[str, Any], int]:
    """Build the row's arguments, then call it as actor_name: (result or exception, state before, mark)."""
    actor = world.actor(actor_name)
    with bootstrap.unit_of_work() as uow:
        args, kwargs = row.args(world, uow)
        before, mark = state(row.tables), audit_mark()
        try:
            return row.service(actor, uow, *args, **kwargs), before, mark
        except Exception as exc:  # noqa: BLE001 - judged by the caller
            return exc, before, mark


@pytest.mark.parametrize("row", TABLE, ids=[row.name.removeprefix("core.") for row in TABLE])
def test_access(row: Row, world: World) -> None:
    refused = [name for name in ACTORS if name not in row.allowed]
    for name in refused:
        outcome, before, mark = call(row, world, name)
        assert isinstance(outcome, PermissionDenied), f"{row.name} as {name}: {outcome!r}"
        assert state(row.tables) == before, f"{row.name} as {name} was refused but wrote something"
        audits = audits_since(mark)
        actor_id = world.actor(name).user_id
        if row.kind == "step":
            assert audits == [], f"{row.name} as {name}: a step leaves the auditing to its caller"
            continue
        assert len(audits) == 1, f"{row.name} as {name}: refusal audit rows {audits}"
        action, who, outcome_, reason = audits[0]
        assert (who, outcome_, reason) == (actor_id, "refused", outcome.message), (row.name, name, audits)
        if row.kind == "write" or row.action:
            assert action == row.action, (row.name, name, action)
        else:
            assert action.startswith("read."), (row.name, name, action)
    for name in sorted(row.allowed):
        outcome, before, mark = call(row, world, name)
        assert not isinstance(outcome, Exception), f"{row.name} as {name} (allowed) failed: {outcome!r}"
        assert row.check(outcome, world, name), f"{row.name} as {name}: unexpected result {outcome!r}"
        assert audits_since(mark) == [], f"{row.name} as {name} succeeded yet left a refusal"
        if row.kind == "write":
            assert state(row.tables) != before, f"{row.name} as {name} succeeded but wrote nothing"
        else:
            assert state(row.tables) == before, f"{row.name} as {name} is a read yet wrote something"
