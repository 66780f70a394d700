"""What a fund manager reads and previews about the pools they manage.

Every function takes (actor, uow, ...) and refuses, with PermissionDenied, any pool the actor does
not manage, including pools, calls and items named by id. Previews use the very functions the
operations post with (core.operations.kinds), so a preview is what gets posted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from core import clock, positions
from core.cache import from_fields
from core.csvsafe import csv_text, neutralise  # noqa: F401 - neutralise re-exported: one rule
from core.domain import RUNNING_POOLS, clean_text, parse_date
from core.errors import InvalidState, NotFound, ValidationError
from core.fundmath import portfolio_metrics, scale_down
from core.money import MINOR_UNITS, minor_unit, parse_amount, quantize, to_decimal
from core.operations.kind import KINDS, MAX_REQUESTS
from core.permissions import FUND_MANAGER, Actor, require_pool_manager, require_role
from core.services import calls
from core.services.analytics import pool_analytics
from core.services.audit import audits_refused_reads
from core.services.distributions import plan_distribution
from core.services.pools import PoolView, load_pool
from core.uow import UnitOfWork
from db.models import CapitalCall, Pool

ZERO = Decimal(0)
RUNNING = RUNNING_POOLS
TIER_LABELS = {
    "return_of_capital": "Return of capital",
    "preferred_return": "Preferred return",
    "catch_up": "GP catch-up",
    "split": "Profit split",
}


def _managed(actor: Actor, uow: UnitOfWork, pool_id: object) -> Pool:
    """The pool, if this actor manages it; PermissionDenied otherwise (NotFound for no such id)."""
    require_role(actor, FUND_MANAGER)
    if isinstance(pool_id, bool) or not isinstance(pool_id, int):
        raise NotFound(f"no pool {str(pool_id)[:20]}")
    pool = load_pool(uow, pool_id)
    require_pool_manager(actor, pool.manager_id)
    return pool


def _require_running(pool: Pool, what: str) -> None:
    if pool.status not in RUNNING:
        raise InvalidState(f"{what} needs a closed pool; this one is {pool.status}")


def _names(uow: UnitOfWork, ids: list[int]) -> dict[int, tuple[str, str]]:
    """(name, email) of each user id; one array parameter, however many ids."""
    if not ids:
        return {}
    rows = uow.session.execute(
        text("SELECT id, name, email FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids}
    )
    return {row[0]: (row[1], row[2]) for row in rows.all()}


def _load(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a cached dataclass: dates come back from JSON as ISO strings."""
    values = {}
    for f in fields(cls):
        value = data[f.name]
        if f.type in ("date", "date | None") and isinstance(value, str):
            value = date.fromisoformat(value)
        values[f.name] = value
    return cls(**values)


@audits_refused_reads
def managed_pool(actor: Actor, uow: UnitOfWork, pool_id: int) -> PoolView:
    """One pool's terms and status, for its manager only."""
    return PoolView.of(_managed(actor, uow, pool_id))


@audits_refused_reads
def pool_versions(actor: Actor, uow: UnitOfWork) -> dict[int, int]:
    """The version counter of each of this manager's pools: what live pages poll."""
    require_role(actor, FUND_MANAGER)
    rows = uow.session.execute(select(Pool.id, Pool.version).where(Pool.manager_id == actor.user_id))
    return {row.id: row.version for row in rows}


# --- returns ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Returns:
    irr: Decimal | None
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None


def _pool_flows(uow: UnitOfWork, pool_id: int) -> list[tuple[date, Decimal]]:
    """The investors' dated cash flows with the pool as a whole: paid in negative, distributions positive."""
    rows = uow.session.execute(
        text(
            """SELECT j.effective_date, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.account = 'capital' AND j.kind IN ('payment', 'distribution')
                GROUP BY j.effective_date, j.kind ORDER BY j.effective_date"""
        ),
        {"pool": pool_id},
    )
    return [(on, -credit) for on, credit in rows if credit != 0]


def _returns(uow: UnitOfWork, pool: Pool, nav: Decimal) -> Returns:
    """Net IRR (NAV as of today as the final flow) and multiples, cached by the pool's version."""

    def compute() -> Returns:
        flows = _pool_flows(uow, pool.id)
        metrics = portfolio_metrics({pool.id: flows}, {pool.id: max(nav, ZERO)}, clock.today())[pool.id]
        return Returns(metrics.irr, metrics.tvpi, metrics.dpi, metrics.rvpi)

    return uow.cache.cached(f"manager:returns:{pool.id}:v{pool.version}", compute, from_fields(Returns))


# --- my pools ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSummary:
    id: int
    name: str
    strategy: str
    status: str
    currency: str
    target_size: Decimal
    hard_cap: Decimal
    close_date: date
    accepted: Decimal
    pending: Decimal
    investors: int
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    distributed: Decimal
    nav: Decimal
    irr: Decimal | None
    tvpi: Decimal | None
    version: int

    @property
    def raised(self) -> int:
        """Whole percent of the hard cap accepted, for a progress bar (0-100)."""
        return min(int(self.accepted * 100 / self.hard_cap), 100) if self.hard_cap else 0


def _summary(actor: Actor, uow: UnitOfWork, pool: Pool) -> PoolSummary:
    figures = pool_analytics(actor, uow, pool.id)
    returns = _returns(uow, pool, figures.nav)
    return PoolSummary(
        pool.id,
        pool.name,
        pool.strategy,
        pool.status,
        pool.currency,
        pool.target_size,
        pool.hard_cap,
        pool.close_date,
        figures.committed,
        figures.pending,
        figures.investors,
        figures.called,
        figures.paid_in,
        figures.outstanding,
        figures.distributed,
        figures.nav,
        returns.irr,
        returns.tvpi,
        pool.version,
    )


@audits_refused_reads
def my_pools(actor: Actor, uow: UnitOfWork) -> list[PoolSummary]:
    """Every pool this manager runs, newest first, with fundraising, capital and returns figures."""
    require_role(actor, FUND_MANAGER)
    mine = (
        uow.session.execute(select(Pool).where(Pool.manager_id == actor.user_id).order_by(Pool.id.desc()))
        .scalars()
        .all()
    )
    return [_summary(actor, uow, pool) for pool in mine]


# --- commitments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentRow:
    id: int
    investor_id: int
    investor_name: str
    kyc_status: str
    amount_requested: Decimal
    amount_accepted: Decimal | None
    status: str
    created_at: Any


@dataclass(frozen=True)
class Decided:
    """Decided commitments as columns: thousands of rows without a Python object per row."""

    ids: list[int]
    investor_names: list[str]
    requested: list[Decimal]
    accepted: list[Decimal | None]
    statuses: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class CommitmentBook:
    pool: PoolView
    accepted: Decimal
    pending_total: Decimal
    room: Decimal
    investors: int
    pending: list[CommitmentRow]
    decided: Decided


@audits_refused_reads
def commitment_book(actor: Actor, uow: UnitOfWork, pool_id: int) -> CommitmentBook:
    """A pool's commitments for review: the pending ones in full, the decided ones as columns."""
    pool = _managed(actor, uow, pool_id)
    places = {"pool": pool.id, "places": MINOR_UNITS[pool.currency]}
    pending = [
        CommitmentRow(*row)
        for row in uow.session.execute(
            text(
                """SELECT c.id, c.investor_id, u.name, u.kyc_status, round(c.amount_requested, :places),
                          round(c.amount_accepted, :places), c.status, c.created_at
                     FROM commitments c JOIN users u ON u.id = c.investor_id
                    WHERE c.pool_id = :pool AND c.status = 'pending' ORDER BY c.id"""
            ),
            places,
        ).all()
    ]
    # One row of arrays: the driver builds each column's list in C.
    ids, names, requested, accepted, statuses, accepted_total, investors = uow.session.execute(
        text(
            """SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}'),
                      coalesce(array_agg(u.name ORDER BY c.id), '{}'),
                      coalesce(array_agg(round(c.amount_requested, :places) ORDER BY c.id), '{}'),
                      coalesce(array_agg(round(c.amount_accepted, :places) ORDER BY c.id), '{}'),
                      coalesce(array_agg(c.status::text ORDER BY c.id), '{}'),
                      coalesce(sum(c.amount_accepted) FILTER (WHERE c.status = 'accepted'), 0),
                      count(*) FILTER (WHERE c.status = 'accepted')
                 FROM commitments c JOIN users u ON u.id = c.investor_id
                WHERE c.pool_id = :pool AND c.status <> 'pending'"""
        ),
        places,
    ).one()
    return CommitmentBook(
        PoolView.of(pool),
        quantize(accepted_total, pool.currency),
        quantize(sum((c.amount_requested for c in pending), ZERO), pool.currency),
        quantize(max(pool.hard_cap - accepted_total, ZERO), pool.currency),
        investors,
        pending,
        Decided(ids, names, requested, accepted, statuses),
    )


@dataclass(frozen=True)
class ScaleDownRow:
    commitment_id: int
    investor_name: str
    requested: Decimal
    proposed: Decimal


@dataclass(frozen=True)
class ScaleDownPlan:
    pool_id: int
    currency: str
    room: Decimal
    requested: Decimal
    proposed: Decimal
    fits: bool
    rows: list[ScaleDownRow]
    version: int

    @property
    def left_out(self) -> list[ScaleDownRow]:
        return [row for row in self.rows if row.proposed == 0]

    @property
    def payload(self) -> dict[str, Any]:
        """The settle_commitment request that accepts exactly this plan."""
        return {
            "commitments": [
                {"id": row.commitment_id, "amount": str(row.proposed)}
                for row in self.rows
                if row.proposed > 0
            ]
        }


@audits_refused_reads
def scale_down_plan(actor: Actor, uow: UnitOfWork, pool_id: int) -> ScaleDownPlan:
    """Every pending commitment cut pro rata (core.fundmath.scale_down) to fit the room under the hard cap."""
    pool = _managed(actor, uow, pool_id)
    if pool.status not in ("open", "closed"):
        raise InvalidState(f"commitments cannot be accepted while the pool is {pool.status}")
    book = commitment_book(actor, uow, pool_id)
    if not book.pending:
        raise InvalidState("there are no pending commitments to accept")
    requests = {c.id: quantize(c.amount_requested, pool.currency) for c in book.pending}
    proposed = scale_down(requests, book.room, pool.min_ticket, minor_unit(pool.currency))
    rows = [ScaleDownRow(c.id, c.investor_name, requests[c.id], proposed[c.id]) for c in book.pending]
    if not any(row.proposed for row in rows):
        raise InvalidState(
            f"no pending commitment fits: {book.room:,} {pool.currency} left under the hard cap, "
            f"minimum ticket {quantize(pool.min_ticket, pool.currency):,}"
        )
    return ScaleDownPlan(
        pool.id,
        pool.currency,
        book.room,
        sum(requests.values(), ZERO),
        sum(proposed.values(), ZERO),
        sum(requests.values(), ZERO) <= book.room,
        rows,
        pool.version,
    )


# --- capital calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallLine:
    investor_id: int
    investor_name: str
    committed: Decimal
    called_before: Decimal
    unfunded_before: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CallPreview:
    pool_id: int
    currency: str
    total: Decimal
    lines: list[CallLine]
    payload: dict[str, Any]
    version: int


@audits_refused_reads
def call_preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: dict[str, Any]) -> CallPreview:
    """Each investor's part of a proposed call (calls.call_allocation), checked as submission checks it.

    request: {"percent" or "amount", "purpose", "due_date", "call_date"}; the returned payload is
    what to submit as the capital_call operation.
    """
    pool = _managed(actor, uow, pool_id)
    _require_running(pool, "a capital call")
    upto = positions.last_journal(uow.session, pool.id)
    held = positions.investor_positions(uow.session, pool.id, upto_journal=upto)
    committed = sum((p.committed for p in held.values()), ZERO)
    total = calls.call_total(pool, committed, request)
    parts = calls.call_allocation(uow, pool, total, upto)
    purpose = clean_text(request.get("purpose", ""), "purpose", max_length=200)
    call_date = request.get("call_date") or clock.today()
    call_date = parse_date(call_date, "call_date")
    if call_date > clock.today():
        raise ValidationError("call_date", "cannot be in the future")
    due = parse_date(request.get("due_date"), "due_date")
    if due < call_date:
        raise ValidationError("due_date", "must not be before the call date")
    names = _names(uow, list(parts))
    lines = [
        CallLine(
            investor,
            names.get(investor, ("?", ""))[0],
            held[investor].committed,
            held[investor].called,
            held[investor].unfunded,
            amount,
        )
        for investor, amount in parts.items()
    ]
    percent = request.get("percent")
    payload = {
        "purpose": purpose,
        "call_date": call_date.isoformat(),
        "due_date": due.isoformat(),
        **(
            {"percent": str(to_decimal(percent, "percent"))}
            if percent not in (None, "")
            else {"amount": str(total)}
        ),
    }
    return CallPreview(pool.id, pool.currency, total, lines, payload, pool.version)


@dataclass(frozen=True)
class CallSummary:
    id: int
    call_date: date
    due_date: date
    purpose: str
    amount: Decimal
    percent: Decimal | None
    status: str
    items: int
    items_paid: int
    paid: Decimal
    outstanding: Decimal

    @property
    def overdue(self) -> bool:
        return self.outstanding > 0 and self.due_date < clock.today()


@dataclass(frozen=True)
class InvestorBalance:
    investor_id: int
    investor_name: str
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    unfunded: Decimal


@dataclass(frozen=True)
class CallBook:
    pool: PoolView
    calls: list[CallSummary]
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal


@audits_refused_reads
def call_book(actor: Actor, uow: UnitOfWork, pool_id: int) -> CallBook:
    """A pool's capital calls with what is paid and outstanding on each, and the pool's totals."""
    pool = _managed(actor, uow, pool_id)
    rows = uow.session.execute(
        text(
            """SELECT c.id, c.call_date, c.due_date, c.purpose, c.amount, c.percent, c.status,
                      count(i.id), count(i.id) FILTER (WHERE i.status = 'paid'),
                      coalesce(sum(i.amount_paid), 0),
                      coalesce(sum(i.amount_due - i.amount_paid) FILTER (WHERE i.status <> 'cancelled'), 0)
                 FROM capital_calls c LEFT JOIN call_items i ON i.call_id = c.id
                WHERE c.pool_id = :pool
                GROUP BY c.id ORDER BY c.call_date DESC, c.id DESC"""
        ),
        {"pool": pool.id},
    ).all()
    calls = [
        CallSummary(
            r[0],
            r[1],
            r[2],
            r[3],
            quantize(r[4], pool.currency),
            r[5],
            r[6],
            r[7],
            r[8],
            quantize(r[9], pool.currency),
            quantize(r[10], pool.currency),
        )
        for r in rows
    ]
    totals = pool_analytics(actor, uow, pool.id)  # cached by the pool's version
    return CallBook(PoolView.of(pool), calls, totals.called, totals.paid_in, totals.outstanding)


@audits_refused_reads
def investor_balances(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[InvestorBalance]:
    """Per investor across all calls: committed, called, paid-in, outstanding, unfunded; most owed first."""
    pool = _managed(actor, uow, pool_id)
    held = positions.investor_positions(uow.session, pool.id)
    names = _names(uow, list(held))
    return [
        InvestorBalance(
            i, names.get(i, ("?", ""))[0], p.committed, p.called, p.paid_in, p.outstanding, p.unfunded
        )
        for i, p in sorted(held.items(), key=lambda kv: (-kv[1].outstanding, kv[0]))
        if p.committed or p.called
    ]


@dataclass(frozen=True)
class CallItemRow:
    id: int
    investor_id: int
    investor_name: str
    email: str
    committed: Decimal
    amount_due: Decimal
    amount_paid: Decimal
    status: str

    @property
    def outstanding(self) -> Decimal:
        return self.amount_due - self.amount_paid


def _call_of(actor: Actor, uow: UnitOfWork, call_id: object) -> tuple[CapitalCall, Pool]:
    if isinstance(call_id, bool) or not isinstance(call_id, int):
        raise NotFound("no such capital call")
    require_role(actor, FUND_MANAGER)
    call = uow.session.get(CapitalCall, call_id)
    if call is None:
        raise NotFound(f"no capital call {call_id}")
    return call, _managed(actor, uow, call.pool_id)


@audits_refused_reads
def call_items(actor: Actor, uow: UnitOfWork, call_id: int) -> list[CallItemRow]:
    """One call's items, one per investor, with what each has paid."""
    call, pool = _call_of(actor, uow, call_id)
    return _item_rows(uow, call, pool)


def _item_rows(uow: UnitOfWork, call: CapitalCall, pool: Pool) -> list[CallItemRow]:
    rows = uow.session.execute(
        text(
            """SELECT i.id, i.investor_id, u.name, u.email, round(coalesce(c.amount_accepted, 0), :places),
                      round(i.amount_due, :places), round(i.amount_paid, :places), i.status
                 FROM call_items i
                 JOIN users u ON u.id = i.investor_id
                 JOIN commitments c ON c.id = i.commitment_id
                WHERE i.call_id = :call ORDER BY i.id"""
        ),
        {"call": call.id, "places": MINOR_UNITS[pool.currency]},
    ).all()
    return [CallItemRow(*row) for row in rows]


@audits_refused_reads
def call_notice_csv(actor: Actor, uow: UnitOfWork, call_id: int) -> str:
    """The call notice as CSV, one row per investor: what is due, by when, and what is paid.
    Every cell goes through the one CSV neutraliser (core.csvsafe): names, purposes and emails that
    look like formulas are quoted, amounts stay numbers."""
    call, pool = _call_of(actor, uow, call_id)
    return csv_text(
        [
            "pool",
            "call_id",
            "call_date",
            "due_date",
            "purpose",
            "investor_id",
            "investor_name",
            "email",
            "currency",
            "commitment",
            "amount_due",
            "amount_paid",
            "outstanding",
            "status",
        ],
        (
            [
                pool.name,
                call.id,
                call.call_date.isoformat(),
                call.due_date.isoformat(),
                call.purpose,
                item.investor_id,
                item.investor_name,
                item.email,
                pool.currency,
                item.committed,
                item.amount_due,
                item.amount_paid,
                item.outstanding,
                item.status,
            ]
            for item in call_items(actor, uow, call.id)
        ),
    )


STATEMENT_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class StatementPayment:
    """One line of a bank statement, matched to the investor's item in the call."""

    line: int
    investor_name: str
    email: str
    amount: Decimal
    reference: str
    received_on: date
    call_item_id: int

    @property
    def payload(self) -> dict[str, Any]:
        """The payment operation's request, as the single-payment form sends it."""
        return {
            "call_item_id": self.call_item_id,
            "amount": str(self.amount),
            "reference": self.reference,
            "paid_on": self.received_on.isoformat(),
        }


@audits_refused_reads
def read_bank_statement(actor: Actor, uow: UnitOfWork, call_id: int, data: bytes) -> list[StatementPayment]:
    """A bank statement of payments received for one call, for the manager to check before
    recording it: CSV with a header naming `email` or `investor_id` (the call notice's columns),
    `amount`, `reference` and `received_on` (required: the day is part of each payment's
    idempotency key, so the same statement uploaded again on another day is the same payments, not
    new ones). Lines count from the first payment. Every line is checked as its payment operation
    will be (the same prepare), so a statement that reads cleanly here is recorded as it is shown;
    nothing is written.
    """
    call, pool = _call_of(actor, uow, call_id)
    if not isinstance(data, bytes) or not data.strip():
        raise ValidationError("statement", "is empty")
    if len(data) > STATEMENT_MAX_BYTES:
        raise ValidationError("statement", f"is larger than {STATEMENT_MAX_BYTES // 1_000_000} MB")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError("statement", f"is not a readable UTF-8 CSV file ({exc})") from None
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    who = "email" if "email" in columns else "investor_id" if "investor_id" in columns else None
    if who is None or not {"amount", "reference", "received_on"} <= columns.keys():
        raise ValidationError(
            "statement",
            "needs a header with email (or investor_id), amount, reference and received_on columns",
        )
    if not 1 <= len(rows) <= MAX_REQUESTS:
        raise ValidationError("statement", f"must list 1 to {MAX_REQUESTS:,} payments")
    items = _item_rows(uow, call, pool)
    by_key = {(i.email.lower() if who == "email" else str(i.investor_id)): i for i in items}

    def cell(row: dict[str, Any], column: str) -> str:
        value = row.get(columns.get(column, ""), "")
        return value.strip() if isinstance(value, str) else ""

    matched = []
    for line, row in enumerate(rows, 1):
        item = by_key.get(cell(row, who).lower())
        if item is None:
            raise ValidationError(
                f"line {line} {who}", f"{cell(row, who)[:80]!r} is not an investor in this call"
            )
        if not cell(row, "received_on"):
            raise ValidationError(f"line {line} received_on", "is required (the day the bank received it)")
        matched.append(
            (
                item,
                {
                    "call_item_id": item.id,
                    "amount": cell(row, "amount"),
                    "reference": cell(row, "reference"),
                    "paid_on": cell(row, "received_on"),
                },
            )
        )
    checked = KINDS["payment"].prepare_many(
        actor, uow, pool, [payload for _, payload in matched], range(1, len(matched) + 1)
    )
    return [
        StatementPayment(
            line,
            item.investor_name,
            item.email,
            Decimal(clean["amount"]),
            clean["reference"],
            date.fromisoformat(clean["paid_on"]),
            item.id,
        )
        for line, ((item, _), (clean, _)) in enumerate(zip(matched, checked, strict=True), 1)
    ]


# --- portfolio --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyHolding:
    company: str
    invested: Decimal
    exited_cost: Decimal
    exit_proceeds: Decimal
    first_date: date
    last_date: date

    @property
    def cost_held(self) -> Decimal:
        return self.invested - self.exited_cost

    @property
    def realized_gain(self) -> Decimal:
        return self.exit_proceeds - self.exited_cost


@dataclass(frozen=True)
class Mark:
    on: date
    value: Decimal
    change: Decimal
    note: str


@dataclass(frozen=True)
class NavPoint:
    on: date
    nav: Decimal
    portfolio_value: Decimal
    cash: Decimal
    paid_in: Decimal
    distributed: Decimal


@dataclass(frozen=True)
class PortfolioView:
    pool: PoolView
    cash: Decimal
    invested_cost: Decimal
    unrealized: Decimal
    portfolio_value: Decimal
    nav: Decimal
    companies: list[CompanyHolding]
    marks: list[Mark]
    history: list[NavPoint]


@audits_refused_reads
def portfolio_companies(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[CompanyHolding]:
    """Companies the pool bought into or exited, read from its posted investment journals."""
    pool = _managed(actor, uow, pool_id)
    rows = uow.session.execute(
        text(
            """SELECT o.payload->>'company', o.payload->>'action', o.payload->>'amount',
                      o.payload->>'cost', j.effective_date
                 FROM journals j JOIN operations o ON o.id = j.operation_id
                WHERE j.pool_id = :pool AND j.kind = 'investment' AND j.reverses_id IS NULL
                ORDER BY j.effective_date, j.id"""
        ),
        {"pool": pool.id},
    ).all()
    held: dict[str, dict[str, Any]] = {}
    for company, action, amount, cost, on in rows:
        entry = held.setdefault(
            company,
            {"invested": ZERO, "exited_cost": ZERO, "exit_proceeds": ZERO, "first": on, "last": on},
        )
        entry["last"] = on
        if action == "buy":
            entry["invested"] += Decimal(amount)
        else:
            entry["exited_cost"] += Decimal(cost)
            entry["exit_proceeds"] += Decimal(amount)
    return [
        CompanyHolding(name, e["invested"], e["exited_cost"], e["exit_proceeds"], e["first"], e["last"])
        for name, e in held.items()
    ]


def _marks(uow: UnitOfWork, pool_id: int) -> list[Mark]:
    rows = uow.session.execute(
        text(
            """SELECT o.payload->>'date', o.payload->>'value', o.payload->>'delta', o.payload->>'note'
                 FROM operations o
                WHERE o.pool_id = :pool AND o.kind = 'valuation' AND o.status = 'done'
                ORDER BY o.payload->>'date', o.created_at"""
        ),
        {"pool": pool_id},
    ).all()
    return [Mark(date.fromisoformat(on), Decimal(v), Decimal(d), note) for on, v, d, note in rows]


@audits_refused_reads
def nav_history(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[NavPoint]:
    """NAV, portfolio value and cash at the end of each day anything was booked, from the ledger."""
    pool = _managed(actor, uow, pool_id)
    investor_rows = uow.session.execute(
        text(
            f"""SELECT j.effective_date, {positions._POSITION_COLUMNS}
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE e.pool_id = :pool AND e.investor_id IS NOT NULL
                 GROUP BY j.effective_date"""
        ),
        {"pool": pool.id},
    ).all()
    pool_rows = uow.session.execute(
        text(
            """SELECT j.effective_date, e.account, sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.investor_id IS NULL
                  AND e.account IN ('cash', 'investments', 'unrealized')
                GROUP BY j.effective_date, e.account"""
        ),
        {"pool": pool.id},
    ).all()
    capital: dict[date, tuple[Decimal, Decimal, Decimal]] = {
        row[0]: (row.nav, row.paid_in, row.distributed) for row in investor_rows
    }
    books: dict[date, dict[str, Decimal]] = {}
    for on, account, amount in pool_rows:
        books.setdefault(on, {})[account] = amount
    points = []
    nav = value = cash = paid = distributed = ZERO
    for on in sorted(set(capital) | set(books)):
        d_nav, d_paid, d_dist = capital.get(on, (ZERO, ZERO, ZERO))
        day = books.get(on, {})
        nav += d_nav
        paid += d_paid
        distributed += d_dist
        value += day.get("investments", ZERO) + day.get("unrealized", ZERO)
        cash += day.get("cash", ZERO)
        points.append(NavPoint(on, nav, value, cash, paid, distributed))
    return points


@audits_refused_reads
def portfolio(actor: Actor, uow: UnitOfWork, pool_id: int) -> PortfolioView:
    """The pool's holdings, marks and NAV history."""
    pool = _managed(actor, uow, pool_id)
    books = positions.pool_books(uow.session, pool.id)
    total = positions.pool_total(uow.session, pool.id)
    return PortfolioView(
        PoolView.of(pool),
        books.cash,
        books.investments,
        books.unrealized,
        books.portfolio_value,
        total.nav,
        portfolio_companies(actor, uow, pool_id),
        _marks(uow, pool.id),
        nav_history(actor, uow, pool_id),
    )


# --- distributions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    tier: str
    label: str
    lp: Decimal
    gp: Decimal

    @property
    def total(self) -> Decimal:
        return self.lp + self.gp


@dataclass(frozen=True)
class DistributionLine:
    investor_id: int
    investor_name: str
    paid_in: Decimal
    share: Decimal
    lp: Decimal
    gp: Decimal


@dataclass(frozen=True)
class DistributionPreview:
    pool_id: int
    currency: str
    proceeds: Decimal
    cash: Decimal
    on: date
    tiers: list[TierRow]
    lines: list[DistributionLine]
    payload: dict[str, Any]
    version: int

    @property
    def lp_total(self) -> Decimal:
        return sum((line.lp for line in self.lines), ZERO)

    @property
    def gp_total(self) -> Decimal:
        return sum((line.gp for line in self.lines), ZERO)


@audits_refused_reads
def distribution_preview(
    actor: Actor, uow: UnitOfWork, pool_id: int, request: dict[str, Any]
) -> DistributionPreview:
    """The waterfall per tier and per investor for proposed proceeds (plan_distribution).

    request: {"proceeds", "date", "memo"}; the returned payload is what to submit as the
    distribution operation.
    """
    pool = _managed(actor, uow, pool_id)
    _require_running(pool, "a distribution")
    proceeds = parse_amount(request.get("proceeds"), pool.currency, "proceeds")
    cash = positions.pool_books(uow.session, pool.id).cash
    if proceeds > cash:
        raise ValidationError(
            "proceeds", f"{proceeds:,} is more than the pool's cash of {cash:,} {pool.currency}"
        )
    on = parse_date(request.get("date") or clock.today(), "date")
    if on > clock.today():
        raise ValidationError("date", "cannot be in the future")
    memo = clean_text(request.get("memo", "") or "distribution", "memo", max_length=200)
    upto = positions.last_journal(uow.session, pool.id)
    plan = plan_distribution(uow, pool, proceeds, on, upto)
    held = positions.investor_positions(uow.session, pool.id, upto_journal=upto)
    names = _names(uow, list(plan.shares))
    lines = [
        DistributionLine(
            investor,
            names.get(investor, ("?", ""))[0],
            held[investor].paid_in,
            share,
            plan.lp[investor],
            plan.gp[investor],
        )
        for investor, share in plan.shares.items()
    ]
    tiers = [
        TierRow(name, TIER_LABELS.get(name, name), *plan.tiers.get(name, (ZERO, ZERO)))
        for name in TIER_LABELS
    ]
    payload = {"proceeds": str(proceeds), "date": on.isoformat(), "memo": memo}
    return DistributionPreview(
        pool.id, pool.currency, proceeds, cash, on, tiers, lines, payload, pool.version
    )


@dataclass(frozen=True)
class PastDistribution:
    on: date
    memo: str
    lp: Decimal
    gp: Decimal


@audits_refused_reads
def distributions(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[PastDistribution]:
    """Distributions posted so far, newest first: the LPs' part and the carried interest."""
    pool = _managed(actor, uow, pool_id)
    rows = uow.session.execute(
        text(
            """SELECT j.effective_date, min(o.payload->>'memo'),
                      coalesce(sum(e.amount) FILTER (WHERE j.kind = 'distribution'), 0),
                      coalesce(sum(e.amount) FILTER (WHERE j.kind = 'carry'), 0)
                 FROM journals j JOIN entries e ON e.journal_id = j.id AND e.account = 'cash'
                 LEFT JOIN operations o ON o.id = j.operation_id
                WHERE j.pool_id = :pool AND j.kind IN ('distribution', 'carry')
                GROUP BY coalesce(j.operation_id::text, j.id::text), j.effective_date
                ORDER BY j.effective_date DESC"""
        ),
        {"pool": pool.id},
    ).all()
    return [PastDistribution(on, memo or "", lp, gp) for on, memo, lp, gp in rows]


# --- dashboard --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    on: date
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    distributed: Decimal
    carry: Decimal
    nav: Decimal


@dataclass(frozen=True)
class InvestorShare:
    investor_id: int
    investor_name: str
    committed: Decimal
    share: Decimal


@dataclass(frozen=True)
class Dashboard:
    pool_id: int
    name: str
    status: str
    currency: str
    version: int
    target_size: Decimal
    hard_cap: Decimal
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    distributed: Decimal
    carry: Decimal
    fees: Decimal
    nav: Decimal
    cash: Decimal
    investors: int
    irr: Decimal | None
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    series: list[SeriesPoint]
    top: list[InvestorShare]

    def top_share(self, n: int) -> Decimal:
        """The n largest investors' share of commitments, as a fraction."""
        return sum((row.share for row in self.top[:n]), ZERO)


def _series(uow: UnitOfWork, pool_id: int) -> list[SeriesPoint]:
    rows = uow.session.execute(
        text(
            f"""SELECT j.effective_date, {positions._POSITION_COLUMNS}
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE e.pool_id = :pool AND e.investor_id IS NOT NULL
                 GROUP BY j.effective_date ORDER BY j.effective_date"""
        ),
        {"pool": pool_id},
    ).all()
    points = []
    running = dict.fromkeys(("committed", "called", "paid_in", "distributed", "carry", "nav"), ZERO)
    for row in rows:
        for name in running:
            running[name] += getattr(row, name)
        points.append(SeriesPoint(row[0], **running))
    return points


def _top_investors(uow: UnitOfWork, pool_id: int, limit: int) -> tuple[list[InvestorShare], int]:
    rows = uow.session.execute(
        text(
            """WITH held AS (
                   SELECT investor_id, sum(CASE side WHEN 'C' THEN amount ELSE -amount END) AS committed
                     FROM entries WHERE pool_id = :pool AND account = 'commitment'
                    GROUP BY investor_id HAVING sum(CASE side WHEN 'C' THEN amount ELSE -amount END) > 0)
               SELECT h.investor_id, u.name, h.committed, sum(h.committed) OVER (), count(*) OVER ()
                 FROM held h JOIN users u ON u.id = h.investor_id
                ORDER BY h.committed DESC, h.investor_id LIMIT :limit"""
        ),
        {"pool": pool_id, "limit": limit},
    ).all()
    if not rows:
        return [], 0
    total, count = rows[0][3], rows[0][4]
    return [InvestorShare(r[0], r[1], r[2], r[2] / total) for r in rows], count


def _load_dashboard(data: dict[str, Any]) -> Dashboard:
    data = {
        **data,
        "series": [_load(SeriesPoint, point) for point in data["series"]],
        "top": [_load(InvestorShare, row) for row in data["top"]],
    }
    return Dashboard(**data)


@audits_refused_reads
def dashboard(actor: Actor, uow: UnitOfWork, pool_id: int, top: int = 10) -> Dashboard:
    """Headline figures, capital over time and investor concentration; cached by the pool's version."""
    pool = _managed(actor, uow, pool_id)
    top = max(1, min(int(top), 50))

    def compute() -> Dashboard:
        figures = pool_analytics(actor, uow, pool.id)
        returns = _returns(uow, pool, figures.nav)
        shares, investors = _top_investors(uow, pool.id, top)
        return Dashboard(
            pool.id,
            pool.name,
            pool.status,
            pool.currency,
            pool.version,
            pool.target_size,
            pool.hard_cap,
            figures.committed,
            figures.called,
            figures.paid_in,
            figures.outstanding,
            figures.distributed,
            figures.carry,
            figures.fees,
            figures.nav,
            figures.cash,
            investors,
            returns.irr,
            returns.tvpi,
            returns.dpi,
            returns.rvpi,
            _series(uow, pool.id),
            shares,
        )

    return uow.cache.cached(f"manager:dashboard:{pool.id}:v{pool.version}:top{top}", compute, _load_dashboard)
