"""Users, roles, KYC status, and the login bookkeeping that must survive restarts."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
from sqlalchemy import func, or_, select, update

from core.domain import clean_text
from core.errors import InvalidState, NotFound, ValidationError
from core.permissions import ADMIN, ROLES, Actor, require_role
from core.services.audit import records_refusals
from db.models import ACCREDITATIONS, KYC_STATUSES, User
from db.session import UnitOfWork

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,189}\.[a-z]{2,24}$", re.IGNORECASE)
MIN_PASSWORD = 10
MAX_PASSWORD = 72  # bcrypt reads at most 72 bytes; longer would silently be truncated


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    name: str
    email: str
    role: str
    kyc_status: str
    accreditation: str
    active: bool
    locked_until: datetime | None
    failed_logins: int

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            user.id,
            user.username,
            user.name,
            user.email,
            user.role,
            user.kyc_status,
            user.accreditation,
            user.active,
            user.locked_until,
            user.failed_logins,
        )


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def check_password_strength(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD:
        raise ValidationError("password", f"must be at most {MAX_PASSWORD} bytes")
    return password


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


def _user(uow: UnitOfWork, user_id: int, *, lock: bool = False) -> User:
    query = select(User).where(User.id == user_id)
    user = uow.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


@records_refusals("user.create", "user")
def create_user(
    actor: Actor,
    uow: UnitOfWork,
    username: str,
    *,
    name: str,
    email: str,
    role: str,
    password: str | None = None,
    kyc_status: str = "pending",
    accreditation: str = "none",
) -> tuple[int, str | None]:
    """Create a user; with no password, a temporary one is generated and returned to show once."""
    require_role(actor, ADMIN)
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise ValidationError("username", "must be 3-64 characters: lowercase letters, digits, . _ -")
    name = clean_text(name, "name", max_length=200)
    email = (email or "").strip()
    if not EMAIL.match(email):
        raise ValidationError("email", "is not an email address")
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    if kyc_status not in KYC_STATUSES:
        raise ValidationError("kyc_status", f"must be one of {', '.join(KYC_STATUSES)}")
    if accreditation not in ACCREDITATIONS:
        raise ValidationError("accreditation", f"must be one of {', '.join(ACCREDITATIONS)}")
    temporary = None
    if password is None:
        password = temporary = temporary_password()
    check_password_strength(password)
    if uow.session.execute(select(User.id).where(User.username == username)).first():
        raise ValidationError("username", "is already taken")
    user = User(
        username=username,
        name=name,
        email=email,
        role=role,
        kyc_status=kyc_status,
        accreditation=accreditation,
        password_hash=hash_password(password),
        must_change_password=temporary is not None,
    )
    uow.session.add(user)
    uow.session.flush()
    uow.audit(actor.user_id, "user.create", "user", user.id, after={"username": username, "role": role})
    uow.commit()
    return user.id, temporary


def _admins_left(uow: UnitOfWork, excluding: int) -> int:
    return uow.session.execute(
        select(func.count()).where(User.role == ADMIN, User.active, User.id != excluding)
    ).scalar_one()


@records_refusals("user.set_role", "user")
def set_role(actor: Actor, uow: UnitOfWork, user_id: int, role: str) -> None:
    require_role(actor, ADMIN)
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    user = _user(uow, user_id, lock=True)
    if user.role == ADMIN and role != ADMIN and _admins_left(uow, user.id) == 0:
        raise InvalidState("the last active admin cannot be demoted")
    before = user.role
    user.role = role
    uow.audit(actor.user_id, "user.set_role", "user", user.id, {"role": before}, {"role": role})
    uow.commit()


@records_refusals("user.set_kyc", "user")
def set_kyc_status(
    actor: Actor, uow: UnitOfWork, user_id: int, kyc_status: str, accreditation: str | None = None
) -> None:
    require_role(actor, ADMIN)
    if kyc_status not in KYC_STATUSES:
        raise ValidationError("kyc_status", f"must be one of {', '.join(KYC_STATUSES)}")
    if accreditation is not None and accreditation not in ACCREDITATIONS:
        raise ValidationError("accreditation", f"must be one of {', '.join(ACCREDITATIONS)}")
    user = _user(uow, user_id, lock=True)
    before = {"kyc_status": user.kyc_status, "accreditation": user.accreditation}
    user.kyc_status = kyc_status
    if accreditation is not None:
        user.accreditation = accreditation
    uow.audit(
        actor.user_id,
        "user.set_kyc",
        "user",
        user.id,
        before,
        {"kyc_status": user.kyc_status, "accreditation": user.accreditation},
    )
    uow.commit()


@records_refusals("user.unlock", "user")
def unlock_user(actor: Actor, uow: UnitOfWork, user_id: int) -> None:
    require_role(actor, ADMIN)
    user = _user(uow, user_id, lock=True)
    before = {"locked_until": user.locked_until.isoformat() if user.locked_until else None}
    user.locked_until = None
    user.failed_logins = 0
    uow.audit(actor.user_id, "user.unlock", "user", user.id, before, {"locked_until": None})
    uow.commit()


@records_refusals("user.set_active", "user")
def set_active(actor: Actor, uow: UnitOfWork, user_id: int, active: bool) -> None:
    require_role(actor, ADMIN)
    user = _user(uow, user_id, lock=True)
    if not active and user.role == ADMIN and _admins_left(uow, user.id) == 0:
        raise InvalidState("the last active admin cannot be deactivated")
    before = user.active
    user.active = active
    uow.audit(actor.user_id, "user.set_active", "user", user.id, {"active": before}, {"active": active})
    uow.commit()


def list_users(actor: Actor, uow: UnitOfWork, search: str = "", limit: int = 200) -> list[UserView]:
    require_role(actor, ADMIN)
    query = select(User).order_by(User.username).limit(limit)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(User.username.like(pattern), func.lower(User.name).like(pattern)))
    return [UserView.of(user) for user in uow.session.execute(query).scalars()]


# --- login bookkeeping: no Actor, the person is not logged in yet ---------------------------------


@dataclass(frozen=True)
class LoginRecord:
    id: int
    username: str
    name: str
    email: str
    role: str
    password_hash: str
    locked_until: datetime | None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > datetime.now(UTC)


def login_record(uow: UnitOfWork, username: str) -> LoginRecord | None:
    """The credentials of an active user, for the login form; None for unknown or deactivated."""
    user = uow.session.execute(
        select(User).where(User.username == username.strip().lower(), User.active)
    ).scalar_one_or_none()
    if user is None:
        return None
    return LoginRecord(
        user.id, user.username, user.name, user.email, user.role, user.password_hash, user.locked_until
    )


def record_login_failure(uow: UnitOfWork, username: str, *, max_failures: int, lock_minutes: int) -> bool:
    """Count a failure in the database (shared by every app replica); lock at max_failures. True if locked."""
    user_id = uow.session.execute(
        update(User)
        .where(User.username == username.strip().lower())
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.id)
    ).scalar_one_or_none()
    if user_id is None:
        return False
    locked_id = uow.session.execute(
        update(User)
        .where(User.id == user_id, User.failed_logins >= max_failures)
        .values(failed_logins=0, locked_until=func.now() + timedelta(minutes=lock_minutes))
        .returning(User.id)
    ).scalar_one_or_none()
    uow.audit(user_id, "login.failed", "user", user_id, after={"locked": locked_id is not None})
    uow.commit()
    return locked_id is not None


def record_login_success(uow: UnitOfWork, username: str) -> None:
    uow.session.execute(
        update(User)
        .where(User.username == username.strip().lower())
        .values(failed_logins=0, locked_until=None)
    )
    uow.commit()
