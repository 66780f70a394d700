"""Typed SQLAlchemy 2 models. The ledger tables are guarded by triggers in the migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.ledger.accounts import POOL_ACCOUNTS, Account
from core.vocabulary import (
    Accreditation,
    ApprovalKind,
    ApprovalStatus,
    CallItemStatus,
    CallStatus,
    CommitmentStatus,
    DocumentKind,
    ExpenseCategory,
    FeeBasis,
    HurdleAccrual,
    KycStatus,
    NoticeKind,
    NoticeStatus,
    OperationStatus,
    PoolStatus,
    Role,
    WaterfallModel,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Amounts: NUMERIC(20, 4) holds every currency's minor unit with room; rates: NUMERIC(9, 6).
Amount = Annotated[Decimal, mapped_column(Numeric(20, 4))]
Rate = Annotated[Decimal, mapped_column(Numeric(9, 6))]
IntPK = Annotated[int, mapped_column(BigInteger, primary_key=True, autoincrement=True)]
Created = Annotated[datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]
# Bumped by every change of the row: a form carries the version it showed, and a stale one is refused.
Version = Annotated[int, mapped_column(BigInteger, server_default="0")]


def _in(column: str, enum: type[StrEnum] | tuple[StrEnum, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in enum)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint(_in("kyc_status", KycStatus), name="kyc_status"),
        CheckConstraint(_in("accreditation", Accreditation), name="accreditation"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
        # A provider sign-in finds its user by email, case-insensitively (migration 0002).
        Index("ix_users_email_lower", func.lower(text("email"))),
    )

    id: Mapped[IntPK]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    kyc_status: Mapped[str] = mapped_column(String(20), server_default="pending")
    accreditation: Mapped[str] = mapped_column(String(30), server_default="none")
    password_hash: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    must_change_password: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[Created]
    # The last sign-in or interaction (written at most once a minute); idle sessions expire by it.
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[Version]


class Pool(Base):
    __tablename__ = "pools"
    __table_args__ = (
        CheckConstraint(_in("status", PoolStatus), name="status"),
        CheckConstraint(_in("management_fee_basis", FeeBasis), name="fee_basis"),
        CheckConstraint("target_size > 0 AND hard_cap >= target_size", name="sizes"),
        CheckConstraint("gp_commitment >= 0 AND gp_commitment <= hard_cap", name="gp_commitment"),
        CheckConstraint("min_ticket > 0 AND max_ticket >= min_ticket", name="tickets"),
        CheckConstraint("carry_rate BETWEEN 0 AND 1", name="carry_rate"),
        CheckConstraint("catch_up_rate BETWEEN 0 AND 1", name="catch_up_rate"),
        CheckConstraint("hurdle_rate BETWEEN 0 AND 1", name="hurdle_rate"),
        CheckConstraint(_in("hurdle_accrual", HurdleAccrual), name="hurdle_accrual"),
        CheckConstraint("escrow_rate BETWEEN 0 AND 1", name="escrow_rate"),
        CheckConstraint(_in("waterfall_model", WaterfallModel), name="waterfall_model"),
        CheckConstraint("management_fee_rate BETWEEN 0 AND 1", name="fee_rate"),
        CheckConstraint("version >= 0", name="version"),
        Index("ix_pools_manager_id_status", "manager_id", "status"),
    )

    id: Mapped[IntPK]
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(120))
    strategy: Mapped[str] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))
    target_size: Mapped[Amount]
    hard_cap: Mapped[Amount]
    # The GP's own capital, committed when the pool opens: it pays no carry and no fees.
    gp_commitment: Mapped[Decimal] = mapped_column(Numeric(20, 4), server_default="0")
    min_ticket: Mapped[Amount]
    max_ticket: Mapped[Amount]
    management_fee_rate: Mapped[Rate]
    management_fee_basis: Mapped[str] = mapped_column(String(30), server_default="committed_then_invested")
    management_fee_step_down_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    investment_period_end: Mapped[date | None] = mapped_column(Date)
    carry_rate: Mapped[Rate]
    hurdle_rate: Mapped[Rate]
    catch_up_rate: Mapped[Rate]
    hurdle_accrual: Mapped[str] = mapped_column(String(10), server_default="compound")
    # The share of each carry payment held in escrow until the clawback risk clears.
    escrow_rate: Mapped[Decimal] = mapped_column(Numeric(9, 6), server_default="0")
    waterfall_model: Mapped[str] = mapped_column(String(20), server_default="whole_fund")
    # Deal by deal: a deal's waterfall first returns the capital earlier, fully realized deals lost.
    recover_prior_losses: Mapped[bool] = mapped_column(server_default=text("false"))
    close_date: Mapped[date] = mapped_column(Date)
    min_accreditation: Mapped[str] = mapped_column(String(30), server_default="accredited")
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    # Bumped by every posting and commitment change: the cache key and live-update counter.
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[Created]
    # Wire instructions (core.services.notices.set_wire_instructions validates them): where investors
    # pay capital calls, and the reference pattern that names each investor's payments.
    wire_bank_name: Mapped[str | None] = mapped_column(String(140))
    wire_account_name: Mapped[str | None] = mapped_column(String(140))
    wire_account_number: Mapped[str | None] = mapped_column(String(34))  # an IBAN or an account number
    wire_bank_code: Mapped[str | None] = mapped_column(String(11))  # a SWIFT/BIC or a routing number
    payment_reference_pattern: Mapped[str] = mapped_column(
        String(60), server_default="IP{pool}-{investor}-{call}"
    )
    # Reminders of an open call item: this many days before its due date, then every so many days
    # once it is overdue (empty / NULL: none).
    reminder_days_before: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default="{7,1}")
    overdue_reminder_days: Mapped[int | None] = mapped_column(SmallInteger, server_default="7")
    # A capital call whose total is above this needs a second manager's approval (NULL: never).
    call_approval_threshold: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))

    manager: Mapped[User] = relationship(lazy="raise")


class PoolManager(Base):
    """A co-manager of a pool. The pool's creator (pools.manager_id) is its lead manager and counts as a
    manager without a row here; core.permissions decides who may act as a manager of a pool."""

    __tablename__ = "pool_managers"
    __table_args__ = (Index("uq_pool_managers_pool_id_user_id", "pool_id", "user_id", unique=True),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[Created]


class Approval(Base):
    """A distribution (or a large capital call) drafted by one manager and awaiting a second person:
    the request as drafted, the preview's figures, and the pool version and journal high-water mark
    the preview was computed at. Approving posts exactly that request, refused if the pool moved."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(_in("kind", ApprovalKind), name="kind"),
        CheckConstraint(_in("status", ApprovalStatus), name="status"),
        CheckConstraint("status = 'drafted' OR decided_by IS NOT NULL", name="decided"),
        Index("ix_approvals_pool_id_status", "pool_id", "status"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    kind: Mapped[str] = mapped_column(String(20))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pool_version: Mapped[int] = mapped_column(BigInteger)
    upto_journal: Mapped[int | None] = mapped_column(BigInteger)
    drafted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drafted_at: Mapped[Created]
    status: Mapped[str] = mapped_column(String(20), server_default="drafted")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500), server_default="")
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID, unique=True)


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint(_in("status", CommitmentStatus), name="status"),
        CheckConstraint("amount_requested > 0", name="amount_requested"),
        CheckConstraint(
            "amount_accepted IS NULL OR (amount_accepted > 0 AND amount_accepted <= amount_requested)",
            name="amount_accepted",
        ),
        CheckConstraint("status <> 'accepted' OR amount_accepted IS NOT NULL", name="accepted_amount"),
        # One live commitment per investor and pool; a rejected or withdrawn one may be followed by another.
        Index(
            "uq_commitments_live",
            "pool_id",
            "investor_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'accepted')"),
        ),
        Index("ix_commitments_investor_id", "investor_id"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    gp: Mapped[bool] = mapped_column(server_default=text("false"))  # the GP's own commitment
    amount_requested: Mapped[Amount]
    amount_accepted: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    created_at: Mapped[Created]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[Version]


class CapitalCall(Base):
    __tablename__ = "capital_calls"
    __table_args__ = (
        CheckConstraint(_in("status", CallStatus), name="status"),
        CheckConstraint("amount > 0", name="amount"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    amount: Mapped[Amount]
    percent: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    purpose: Mapped[str] = mapped_column(String(200))
    call_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), server_default="issuing")
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    created_at: Mapped[Created]
    # The pool's first, second, ... call: how notices and statements name it.
    number: Mapped[int] = mapped_column(server_default="0")
    version: Mapped[Version]


class CallItem(Base):
    __tablename__ = "call_items"
    __table_args__ = (
        CheckConstraint(_in("status", CallItemStatus), name="status"),
        CheckConstraint("amount_due > 0", name="amount_due"),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= amount_due", name="amount_paid"),
        Index("uq_call_items_call_id_investor_id", "call_id", "investor_id", unique=True),
        Index("ix_call_items_investor_id_status", "investor_id", "status"),
    )

    id: Mapped[IntPK]
    call_id: Mapped[int] = mapped_column(ForeignKey("capital_calls.id"))
    # Copied from the accepted commitment the call allocates on, which holds both keys already;
    # checking them per item doubled the cost of a large call. `python -m core verify` checks them.
    commitment_id: Mapped[int] = mapped_column(BigInteger)
    investor_id: Mapped[int] = mapped_column(BigInteger)
    amount_due: Mapped[Amount]
    amount_paid: Mapped[Amount] = mapped_column(server_default="0")
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    version: Mapped[Version]


class Operation(Base):
    """A durable money-moving request: the row comes first, the RQ job (same id) second."""

    __tablename__ = "operations"
    __table_args__ = (
        CheckConstraint(_in("status", OperationStatus), name="status"),
        CheckConstraint("progress_done >= 0 AND progress_done <= progress_total", name="progress"),
        Index("ix_operations_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    progress_done: Mapped[int] = mapped_column(server_default="0")
    progress_total: Mapped[int] = mapped_column(server_default="0")
    attempts: Mapped[int] = mapped_column(server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[Created]
    updated_at: Mapped[Created]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Journal(Base):
    """One balanced posting. Append-only: the database refuses UPDATE and DELETE."""

    __tablename__ = "journals"
    __table_args__ = (Index("ix_journals_pool_id_id", "pool_id", "id"),)

    id: Mapped[IntPK]
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    kind: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(500), server_default="")
    effective_date: Mapped[date] = mapped_column(Date)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"))
    posted_at: Mapped[Created]
    # The transaction that created the journal: entries may only be added by that same transaction.
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("pg_current_xact_id()::text::bigint"))


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("side IN ('D', 'C')", name="side"),
        CheckConstraint(_in("account", Account), name="account"),
        CheckConstraint(f"(investor_id IS NULL) = ({_in('account', POOL_ACCOUNTS)})", name="account_owner"),
        Index("ix_entries_pool_id_investor_id_account", "pool_id", "investor_id", "account"),
        Index("ix_entries_investor_id", "investor_id"),
        Index("ix_entries_journal_id", "journal_id"),
        Index(
            "ix_entries_commitments",
            "pool_id",
            "investor_id",
            postgresql_include=["day", "kind", "side", "amount"],
            postgresql_where=text("account = 'commitment'"),
        ),
    )

    id: Mapped[IntPK]
    # No foreign key: the entries_journal_open statement trigger refuses an entry whose journal does
    # not exist (or was made by another transaction), and journals can never be deleted (migration 0004).
    journal_id: Mapped[int] = mapped_column(BigInteger)
    # pool_id and investor_id are copied from rows that already hold those foreign keys (the journal,
    # the commitment); checking them again per entry tripled the cost of set-based postings.
    # `python -m core verify` checks both against their journal and the users table instead.
    pool_id: Mapped[int] = mapped_column(BigInteger)
    investor_id: Mapped[int | None] = mapped_column(BigInteger)
    account: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    side: Mapped[str] = mapped_column(String(1))
    amount: Mapped[Amount]
    # The journal's kind and effective date, copied as the entry is posted (checked against the
    # journal by entries_journal_open) so the read model never joins the journals (migration 0007).
    kind: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)


class LedgerLineMap(Base):
    """core.ledger.accounts.MOVEMENTS as rows, for the trigger that keeps pool_days (migration 0007);
    a test and `python -m core verify` check that the two agree."""

    __tablename__ = "ledger_line_map"
    __table_args__ = (CheckConstraint("side IN ('D', 'C')", name="side"),)

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(30), primary_key=True)
    line: Mapped[str] = mapped_column(String(30))
    side: Mapped[str] = mapped_column(String(1))


class PoolDay(Base):
    """A pool's line summed over one day's movements, kept by the entries_pool_days trigger."""

    __tablename__ = "pool_days"

    pool_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    line: Mapped[str] = mapped_column(String(30), primary_key=True)
    amount: Mapped[Amount]


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'refused')", name="outcome"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )

    id: Mapped[IntPK]
    at: Mapped[Created]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    outcome: Mapped[str] = mapped_column(String(10), server_default="ok")
    reason: Mapped[str | None] = mapped_column(Text)


# --- domain facts, each written in the transaction of the journal that books it -------------------


class Reversible:
    """A fact booked by an operation's journals; a correction reverses them and marks the fact."""

    operation_id: Mapped[uuid.UUID] = mapped_column(UUID, unique=True)
    reversed_on: Mapped[date | None] = mapped_column(Date)
    reversed_by: Mapped[uuid.UUID | None] = mapped_column(UUID)
    created_at: Mapped[Created]


class PortfolioCompany(Base):
    __tablename__ = "portfolio_companies"
    __table_args__ = (Index("uq_portfolio_companies_pool_id_name", "pool_id", "name", unique=True),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[Created]


class Investment(Reversible, Base):
    """A purchase of a holding in a company, at cost."""

    __tablename__ = "investments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("portfolio_companies.id"))
    amount: Mapped[Amount]
    invested_on: Mapped[date] = mapped_column(Date)


class Mark(Reversible, Base):
    """A valuation of one holding: its fair value on a day, and the change it booked."""

    __tablename__ = "marks"
    __table_args__ = (CheckConstraint("value >= 0", name="value"),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("portfolio_companies.id"))
    value: Mapped[Amount]
    change: Mapped[Amount]
    marked_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), server_default="")


class Exit(Reversible, Base):
    """A realization: the holding leaves at its cost, its marks are released, the gain is realized."""

    __tablename__ = "exits"
    __table_args__ = (CheckConstraint("proceeds >= 0 AND cost > 0", name="amounts"),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("portfolio_companies.id"))
    proceeds: Mapped[Amount]
    cost: Mapped[Amount]
    released: Mapped[Amount]  # the holding's unrealized gain (a loss negative) that the exit releases
    exited_on: Mapped[date] = mapped_column(Date)


class Payment(Reversible, Base):
    """Money received against one call item, with the wire's reference."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_payments_pool_id_reference", "pool_id", "reference"),
        Index("ix_payments_call_item_id", "call_item_id"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(BigInteger)
    call_item_id: Mapped[int] = mapped_column(BigInteger)
    investor_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Amount]
    reference: Mapped[str] = mapped_column(String(100), server_default="")
    paid_on: Mapped[date] = mapped_column(Date)


class FeeCharge(Reversible, Base):
    """A management fee charged to every investor of a pool for one period."""

    __tablename__ = "fee_charges"

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    total: Mapped[Amount]


class FundExpense(Reversible, Base):
    """A fund expense the pool paid, charged to its investors pro rata to their commitments."""

    __tablename__ = "fund_expenses"
    __table_args__ = (CheckConstraint(_in("category", ExpenseCategory), name="category"),)

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    incurred_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Amount]
    memo: Mapped[str] = mapped_column(String(200), server_default="")


class Distribution(Reversible, Base):
    """Proceeds paid out through the waterfall: the investors' part and the carried interest."""

    __tablename__ = "distributions"

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    # The deal whose proceeds these are, in a deal-by-deal pool (None: the whole pool's).
    company_id: Mapped[int | None] = mapped_column(ForeignKey("portfolio_companies.id"), index=True)
    proceeds: Mapped[Amount]
    lp_total: Mapped[Amount]
    gp_total: Mapped[Amount]
    distributed_on: Mapped[date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(String(200), server_default="")


class WindDown(Base):
    """A pool's wind-down: the carry true-up its journals posted (core.services.winddown). Final: a
    wound-down pool's books are closed, so it is never reversed."""

    __tablename__ = "wind_downs"
    __table_args__ = (
        CheckConstraint("escrow_released >= 0 AND escrow_applied >= 0 AND clawback_due >= 0", name="amounts"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), unique=True)
    operation_id: Mapped[uuid.UUID] = mapped_column(UUID, unique=True)
    wound_down_on: Mapped[date] = mapped_column(Date)
    carry_received: Mapped[Amount]
    carry_due: Mapped[Amount]
    escrow_released: Mapped[Amount]  # to the GP
    escrow_applied: Mapped[Amount]  # returned to the investors (carry line) and paid out to them
    clawback_due: Mapped[Amount]  # booked as owed by the GP to the investors
    created_at: Mapped[Created]


# --- notices and the document vault (issue 16) --------------------------------------------------------


class Document(Base):
    """One version of a document in the vault: generated notices and statements, and what a manager
    uploads. Immutable (the database refuses UPDATE and DELETE, migration 0006): a reissue or a
    replacement is the next version of its series, with a note. investor_id NULL: shared with
    the pool's investors."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(_in("kind", DocumentKind), name="kind"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("size > 0", name="size"),
        Index("uq_documents_series_version", "series", "version", unique=True),
        Index("ix_documents_pool_id_investor_id", "pool_id", "investor_id"),
        Index("ix_documents_investor_id", "investor_id"),
    )

    id: Mapped[IntPK]
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    investor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    # The document across its versions: "call:12:investor:5", "upload:3:<uuid>".
    series: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(server_default="1")
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), server_default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]
    # Loaded only when asked for: listings never read the bytes.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class NoticeBatch(Base):
    """The notices one statement wrote (a call's, a distribution's, a quarter's, a round of
    reminders): the range of their ids, written in the same statement, and when all were rendered.
    The renderer and the sweeper find pending notices through the few open batches, so writing a
    call's notices costs the notices table nothing but its primary key."""

    __tablename__ = "notice_batches"
    __table_args__ = (Index("ix_notice_batches_open", "id", postgresql_where=text("rendered_at IS NULL")),)

    id: Mapped[IntPK]
    cause: Mapped[str] = mapped_column(String(200), unique=True)  # "capital_call:12": written once
    first_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int]
    created_at: Mapped[Created]
    rendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The notices an investor or a page may see: rendered ones (a pending notice has no document yet).
_RENDERED = text("status IN ('ready', 'sent', 'failed', 'in_app')")


class Notice(Base):
    """A notice to one investor: the outbox row written in the transaction of what it tells of (a
    call's items, a distribution's journals, a quarter's statements), rendered into the vault and
    emailed by jobs (jobs.notices), and the investor's inbox entry (read_at). Its status, changed
    under a row lock, decides whether it is still to be sent. Every secondary index is partial and
    excludes pending notices: a call writing thousands of them pays for the primary key only."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(_in("kind", NoticeKind), name="kind"),
        CheckConstraint(_in("status", NoticeStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # Notices that could be written twice (statements, reminders, reissues) carry a key; a
        # call's or a distribution's exist once by their batch's cause.
        Index("uq_notices_key", "key", unique=True, postgresql_where=text("key IS NOT NULL")),
        Index("ix_notices_investor_id_created_at", "investor_id", "created_at", postgresql_where=_RENDERED),
        Index(
            "ix_notices_call_id",
            "call_id",
            postgresql_where=text("call_id IS NOT NULL AND status <> 'pending'"),
        ),
        Index(
            "ix_notices_operation_id",
            "operation_id",
            postgresql_where=text("operation_id IS NOT NULL AND status <> 'pending'"),
        ),
        Index("ix_notices_ready", "id", postgresql_where=text("status = 'ready'")),
        Index("ix_notices_failed", "updated_at", postgresql_where=text("status = 'failed'")),
    )

    id: Mapped[IntPK]
    key: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Copied from rows that hold these keys already (call items, journals, commitments): the outbox
    # is written inside the posting transaction, which must not pay a foreign-key check per row.
    pool_id: Mapped[int] = mapped_column(BigInteger)
    investor_id: Mapped[int] = mapped_column(BigInteger)
    call_id: Mapped[int | None] = mapped_column(BigInteger)
    call_item_id: Mapped[int | None] = mapped_column(BigInteger)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID)  # the distribution's
    cutoff_journal: Mapped[int | None] = mapped_column(BigInteger)  # the ledger the distribution saw
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))  # the headline figure, for lists
    note: Mapped[str] = mapped_column(String(500), server_default="")  # a reissue's reason
    reissue_of: Mapped[int | None] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    document_id: Mapped[int | None] = mapped_column(BigInteger)
    recipient: Mapped[str | None] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[Created]
    updated_at: Mapped[Created]
