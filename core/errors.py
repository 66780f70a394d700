"""Domain errors: every refusal the service layer can give, each with a message a user can read.

A ValidationError names its field by code (`due_date`) and says what is wrong in words that follow
the field's label ("must not be before the call date"); its message reads "Due date must not be
before the call date." (FIELD_LABELS, the users' words for each field). FieldErrors collects every
error of one form, so a person fixes them all in one go.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The label each field has on the forms, for messages. A code not listed reads as its words.
FIELD_LABELS = {
    "amount": "Amount",
    "amount_requested": "Amount",
    "percent": "Percentage",
    "purpose": "Purpose",
    "call_date": "Call date",
    "due_date": "Due date",
    "paid_on": "Received on",
    "reference": "Reference",
    "call_item_id": "Call item",
    "period_start": "Period start",
    "period_end": "Period end",
    "company": "Company",
    "company_id": "Company",
    "value": "Value",
    "proceeds": "Proceeds",
    "date": "Date",
    "memo": "Memo",
    "note": "Note",
    "reason": "Reason",
    "name": "Name",
    "strategy": "Strategy",
    "currency": "Currency",
    "target_size": "Target size",
    "hard_cap": "Hard cap",
    "min_ticket": "Minimum ticket",
    "max_ticket": "Maximum ticket",
    "management_fee_rate": "Management fee",
    "management_fee_basis": "Fee basis",
    "management_fee_step_down_rate": "Fee after the investment period",
    "investment_period_end": "Investment period ends",
    "carry_rate": "Carry",
    "hurdle_rate": "Hurdle",
    "catch_up_rate": "GP catch-up",
    "hurdle_accrual": "Hurdle accrues",
    "escrow_rate": "Carry held in escrow",
    "waterfall_model": "Carry is paid",
    "recover_prior_losses": "Earlier deals' losses come back first",
    "gp_commitment": "GP commitment",
    "close_date": "Close date",
    "min_accreditation": "Minimum accreditation",
    "username": "Username",
    "email": "Email",
    "role": "Role",
    "kyc_status": "KYC status",
    "accreditation": "Accreditation",
    "password": "Password",
    "statement": "Bank statement",
    "version": "Version",
    "bank_name": "Bank name",
    "account_name": "Account name",
    "account_number": "IBAN or account number",
    "bank_code": "SWIFT/BIC or routing number",
    "reference_pattern": "Payment reference pattern",
    "days_before": "Reminders before the due date (days)",
    "overdue_every_days": "Overdue reminders every (days)",
    "quarter_end": "Quarter",
    "file": "File",
    "user_id": "User",
    "call_approval_threshold": "Capital calls need approval above",
}


def field_label(field: str) -> str:
    """A field's label; "line 3 amount" (a statement's line) reads "Line 3: Amount"."""
    if field.startswith("line ") and " " in field[5:]:
        number, _, rest = field[5:].partition(" ")
        return f"Line {number}: {field_label(rest)}"
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


class DomainError(Exception):
    """A request the domain refuses; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError, ValueError):
    """Bad input for one named field. `data` carries the limit or value involved, so a page can
    format it rather than parse the English."""

    def __init__(self, field: str, message: str, **data: Any) -> None:
        super().__init__(f"{field_label(field)} {message}")
        self.field = field
        self.reason = message
        self.data = data


class FieldErrors(ValidationError):
    """Every ValidationError of one request at once (field and reason are the first one's)."""

    def __init__(self, errors: list[ValidationError]) -> None:
        DomainError.__init__(self, " ".join(_sentence(error.message) for error in errors))
        self.field = errors[0].field
        self.reason = errors[0].reason
        self.data = errors[0].data
        self.errors = errors

    @property
    def fields(self) -> dict[str, str]:
        return {error.field: error.message for error in self.errors}


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


class Collector:
    """Check each field in its own `with collect(field)` block; raise() then refuses them all at once.

        collect = Collector()
        with collect("amount"):
            amount = parse_amount(...)
        collect.raise_any()
    A block whose check failed leaves its variable unset: later checks that need it go inside
    `if collect.ok(...)`.
    """

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    @contextmanager
    def __call__(self, field: str | None = None) -> Iterator[None]:
        try:
            yield
        except FieldErrors as exc:
            self.errors.extend(exc.errors)
        except ValidationError as exc:
            self.errors.append(exc)

    def ok(self, *fields: str) -> bool:
        """No error yet on any of these fields (or at all, with none named)."""
        failed = {error.field for error in self.errors}
        return not (failed & set(fields)) if fields else not failed

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)


class CurrencyMismatch(ValidationError):
    def __init__(self, left: str, right: str, field: str = "currency") -> None:
        super().__init__(field, f"cannot mix {left} and {right}")


class PermissionDenied(DomainError):
    """The actor may not touch this object (or may not know it exists)."""


class NotFound(DomainError):
    pass


class InvalidState(DomainError):
    """The object's lifecycle does not allow this now."""


class Stale(InvalidState):
    """The object changed since the form that acts on it was shown: nothing was done."""


class Conflict(InvalidState):
    """Another request got there first (a duplicate caught by the database)."""


class CapacityExceeded(DomainError):
    """Accepting this would push a pool over its hard cap."""


class AuthenticationError(DomainError):
    pass


class AccountLocked(AuthenticationError):
    pass
