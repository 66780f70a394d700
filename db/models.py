"""Typed SQLAlchemy 2 models. The ledger tables are guarded by triggers in the migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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

ROLES = ("investor", "fund_manager", "analyst", "admin")
KYC_STATUSES = ("pending", "approved", "rejected", "expired")
ACCREDITATIONS = ("none", "accredited", "qualified_purchaser")
POOL_STATUSES = ("draft", "open", "closed", "investing", "wound_down")
FEE_BASES = ("committed_then_invested", "committed", "invested")
COMMITMENT_STATUSES = ("pending", "accepted", "rejected", "withdrawn")
CALL_STATUSES = ("issuing", "issued", "cancelled")
CALL_ITEM_STATUSES = ("open", "partially_paid", "paid", "cancelled")
OPERATION_STATUSES = ("pending", "running", "done", "failed")
# The chart of accounts: pool-level accounts have no investor; investor-level ones always do.
POOL_ACCOUNTS = ("cash", "investments", "unrealized", "call_clearing", "fee_income")
INVESTOR_ACCOUNTS = ("commitment", "commitment_memo", "receivable", "capital")
ACCOUNTS = POOL_ACCOUNTS + INVESTOR_ACCOUNTS


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("kyc_status", KYC_STATUSES), name="kyc_status"),
        CheckConstraint(_in("accreditation", ACCREDITATIONS), name="accreditation"),
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


class Pool(Base):
    __tablename__ = "pools"
    __table_args__ = (
        CheckConstraint(_in("status", POOL_STATUSES), name="status"),
        CheckConstraint(_in("management_fee_basis", FEE_BASES), name="fee_basis"),
        CheckConstraint("target_size > 0 AND hard_cap >= target_size", name="sizes"),
        CheckConstraint("min_ticket > 0 AND max_ticket >= min_ticket", name="tickets"),
        CheckConstraint("carry_rate BETWEEN 0 AND 1", name="carry_rate"),
        CheckConstraint("catch_up_rate BETWEEN 0 AND 1", name="catch_up_rate"),
        CheckConstraint("hurdle_rate BETWEEN 0 AND 1", name="hurdle_rate"),
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
    min_ticket: Mapped[Amount]
    max_ticket: Mapped[Amount]
    management_fee_rate: Mapped[Rate]
    management_fee_basis: Mapped[str] = mapped_column(String(30), server_default="committed_then_invested")
    management_fee_step_down_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    investment_period_end: Mapped[date | None] = mapped_column(Date)
    carry_rate: Mapped[Rate]
    hurdle_rate: Mapped[Rate]
    catch_up_rate: Mapped[Rate]
    close_date: Mapped[date] = mapped_column(Date)
    min_accreditation: Mapped[str] = mapped_column(String(30), server_default="accredited")
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    # Bumped by every posting and commitment change: the cache key and live-update counter.
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[Created]

    manager: Mapped[User] = relationship(lazy="raise")


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint(_in("status", COMMITMENT_STATUSES), name="status"),
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
    amount_requested: Mapped[Amount]
    amount_accepted: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    created_at: Mapped[Created]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CapitalCall(Base):
    __tablename__ = "capital_calls"
    __table_args__ = (
        CheckConstraint(_in("status", CALL_STATUSES), name="status"),
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


class CallItem(Base):
    __tablename__ = "call_items"
    __table_args__ = (
        CheckConstraint(_in("status", CALL_ITEM_STATUSES), name="status"),
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


class Operation(Base):
    """A durable money-moving request: the row comes first, the RQ job (same id) second."""

    __tablename__ = "operations"
    __table_args__ = (
        CheckConstraint(_in("status", OPERATION_STATUSES), name="status"),
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
        CheckConstraint(_in("account", ACCOUNTS), name="account"),
        CheckConstraint(f"(investor_id IS NULL) = ({_in('account', POOL_ACCOUNTS)})", name="account_owner"),
        Index("ix_entries_pool_id_investor_id_account", "pool_id", "investor_id", "account"),
        Index("ix_entries_investor_id", "investor_id"),
        Index("ix_entries_journal_id", "journal_id"),
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
