"""Domain errors: every refusal the service layer can give, each with a message a user can read."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError, ValueError):
    """Bad input for one named field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class CurrencyMismatch(ValidationError):
    def __init__(self, left: str, right: str, field: str = "currency") -> None:
        super().__init__(field, f"cannot mix {left} and {right}")


class PermissionDenied(DomainError):
    """The actor may not touch this object (or may not know it exists)."""


class NotFound(DomainError):
    pass


class InvalidState(DomainError):
    """The object's lifecycle does not allow this now."""


class CapacityExceeded(DomainError):
    """Accepting this would push a pool over its hard cap."""


class AuthenticationError(DomainError):
    pass


class AccountLocked(AuthenticationError):
    pass
