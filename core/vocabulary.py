"""The words the product is made of, each defined once: roles, statuses, strategies, fee bases.

StrEnums, so a member is its own database value and compares equal to it; db.models builds its
CHECK constraints from these, and pages show `label(member)` rather than the code. The ledger's
own words (accounts, journal kinds, capital-account lines) are in core.ledger.accounts.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    INVESTOR = "investor"
    FUND_MANAGER = "fund_manager"
    ANALYST = "analyst"
    ADMIN = "admin"


class KycStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Accreditation(StrEnum):
    """In rising order: a pool asking for one admits every later one."""

    NONE = "none"
    ACCREDITED = "accredited"
    QUALIFIED_PURCHASER = "qualified_purchaser"

    @property
    def rank(self) -> int:
        return list(Accreditation).index(self)


class Strategy(StrEnum):
    VENTURE = "venture"
    GROWTH = "growth"
    BUYOUT = "buyout"
    REAL_ESTATE = "real_estate"
    PRIVATE_CREDIT = "private_credit"
    INFRASTRUCTURE = "infrastructure"
    SECONDARIES = "secondaries"
    FUND_OF_FUNDS = "fund_of_funds"


class FeeBasis(StrEnum):
    """As core.fundmath.FeeTerms: committed capital in the investment period, invested after it."""

    COMMITTED_THEN_INVESTED = "committed_then_invested"
    COMMITTED = "committed"
    INVESTED = "invested"


class HurdleAccrual(StrEnum):
    """How the preferred return accrues (core.fundmath.preferred_return): compounded annually, or simple."""

    COMPOUND = "compound"
    SIMPLE = "simple"


class WaterfallModel(StrEnum):
    """How carry is paid: on the whole pool's profit (European), or deal by deal as each deal's
    proceeds are distributed (American), the clawback settling the difference at wind-down."""

    WHOLE_FUND = "whole_fund"
    DEAL_BY_DEAL = "deal_by_deal"


class PoolStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    INVESTING = "investing"
    WOUND_DOWN = "wound_down"


class CommitmentStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class CallStatus(StrEnum):
    """issuing while the worker books it; then issued, partially_paid and paid as its items are."""

    ISSUING = "issuing"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


class CallItemStatus(StrEnum):
    """Overdue is not a status: it is an open or partly paid item past its due date, on any day."""

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


class OperationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def label(member: StrEnum | str) -> str:
    """How a code reads to a person: 'fund_manager' -> 'fund manager'."""
    return str(member).replace("_", " ")


# --- notices and the document vault (issue 16) --------------------------------------------------------


class NoticeKind(StrEnum):
    """What a notice tells an investor. Reminders and overdue notices follow a capital call."""

    CAPITAL_CALL = "capital_call"
    DISTRIBUTION = "distribution"
    STATEMENT = "statement"
    REMINDER = "reminder"
    OVERDUE = "overdue"


class NoticeStatus(StrEnum):
    """pending: written with what it tells of (the outbox), not yet rendered; ready: its document is
    in the vault and its email waits to be sent; sent: the mail server accepted it; failed: refused
    after every retry (an admin or the pool's manager may send it round again); in_app: mail is off
    or the investor has no address, so it is shown in the app only."""

    PENDING = "pending"
    READY = "ready"
    SENT = "sent"
    FAILED = "failed"
    IN_APP = "in_app"


class DocumentKind(StrEnum):
    """Generated notices and statements, and what a manager uploads for a pool."""

    CAPITAL_CALL_NOTICE = "capital_call_notice"
    DISTRIBUTION_NOTICE = "distribution_notice"
    CAPITAL_ACCOUNT_STATEMENT = "capital_account_statement"
    AGREEMENT = "agreement"
    SUBSCRIPTION = "subscription"
    REPORT = "report"
    OTHER = "other"


class CallPurpose(StrEnum):
    """The ILPA capital call template's lines for what capital is called for."""

    INVESTMENTS = "investments"
    MANAGEMENT_FEES = "management_fees"
    FUND_EXPENSES = "fund_expenses"


class ExpenseCategory(StrEnum):
    """What a fund expense paid for: the lines of an LPA's organisational and operating expenses."""

    FORMATION = "formation"
    LEGAL = "legal"
    ADMINISTRATION = "administration"
    BANK_FEES = "bank_fees"
    OTHER = "other"

    @property
    def label(self) -> str:
        return "Bank fees" if self is ExpenseCategory.BANK_FEES else self.value.capitalize()


class ApprovalKind(StrEnum):
    """What a draft awaiting a second person's approval would post."""

    DISTRIBUTION = "distribution"
    CAPITAL_CALL = "capital_call"


class ApprovalStatus(StrEnum):
    """A draft: awaiting approval, then approved (and posted), rejected, or withdrawn by its drafter."""

    DRAFTED = "drafted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
