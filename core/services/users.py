"""Users, roles, KYC status, and the login bookkeeping that must survive restarts."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
from sqlalchemy import func, or_, select, update

from core.domain import clean_text
from core.errors import AuthenticationError, Collector, InvalidState, NotFound, Stale, ValidationError
from core.logs import log_context
from core.permissions import ADMIN, ROLES, Actor, require_role
from core.services.audit import audits_refused_reads, records_refusals
from core.uow import UnitOfWork
from core.vocabulary import Accreditation, KycStatus, values
from db.models import User

KYC_STATUSES = values(KycStatus)
ACCREDITATIONS = values(Accreditation)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
# No spaces, angle brackets, control characters (a NUL cannot even be stored) or invisible bidi and
# zero-width characters (which make one address pass for another).
_EMAIL_CHAR = r"[^@\s<>\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
EMAIL = re.compile(rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}{{1,189}}\.[a-z]{{2,24}}$", re.IGNORECASE)
MIN_PASSWORD = 10
MAX_PASSWORD = 72  # bcrypt reads at most 72 bytes; longer would silently be truncated

log = logging.getLogger("investment_pools.users")


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
    version: int = 0  # the row as shown: a change made since is refused (Stale), never overwritten

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
            user.version,
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


def _user(uow: UnitOfWork, user_id: int, *, lock: bool = False, version: int | None = None) -> User:
    """The user; with `version`, the one the admin's page showed: changed since, it is refused."""
    query = select(User).where(User.id == user_id)
    user = uow.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {user_id}")
    if version is not None and version != user.version:
        raise Stale(
            f"{user.username} was changed since the page was shown (by another admin or tab); look again"
        )
    if lock:
        user.version += 1  # the caller changes it
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
    collect = Collector()  # every mistake of the form at once
    username = (username or "").strip().lower()
    with collect("username"):
        if not USERNAME.match(username):
            raise ValidationError("username", "must be 3-64 characters: lowercase letters, digits, . _ -")
        if uow.session.execute(select(User.id).where(User.username == username)).first():
            raise ValidationError("username", "is already taken")
    with collect("name"):
        name = clean_text(name, "name", max_length=200)
    email = (email or "").strip()
    with collect("email"):
        if not EMAIL.match(email):
            raise ValidationError("email", "is not an email address")
    with collect("role"):
        if role not in ROLES:
            raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    with collect("kyc_status"):
        if kyc_status not in KYC_STATUSES:
            raise ValidationError("kyc_status", f"must be one of {', '.join(KYC_STATUSES)}")
    with collect("accreditation"):
        if accreditation not in ACCREDITATIONS:
            raise ValidationError("accreditation", f"must be one of {', '.join(ACCREDITATIONS)}")
    temporary = None
    if password is None:
        password = temporary = temporary_password()
    with collect("password"):
        check_password_strength(password)
    collect.raise_any()
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
def set_role(actor: Actor, uow: UnitOfWork, user_id: int, role: str, *, version: int | None = None) -> None:
    require_role(actor, ADMIN)
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    user = _user(uow, user_id, lock=True, version=version)
    if user.role == ADMIN and role != ADMIN and _admins_left(uow, user.id) == 0:
        raise InvalidState("the last active admin cannot be demoted")
    before = user.role
    user.role = role
    uow.audit(actor.user_id, "user.set_role", "user", user.id, {"role": before}, {"role": role})
    uow.commit()


@records_refusals("user.set_kyc", "user")
def set_kyc_status(
    actor: Actor,
    uow: UnitOfWork,
    user_id: int,
    kyc_status: str,
    accreditation: str | None = None,
    *,
    version: int | None = None,
) -> None:
    require_role(actor, ADMIN)
    if kyc_status not in KYC_STATUSES:
        raise ValidationError("kyc_status", f"must be one of {', '.join(KYC_STATUSES)}")
    if accreditation is not None and accreditation not in ACCREDITATIONS:
        raise ValidationError("accreditation", f"must be one of {', '.join(ACCREDITATIONS)}")
    user = _user(uow, user_id, lock=True, version=version)
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
def unlock_user(actor: Actor, uow: UnitOfWork, user_id: int, *, version: int | None = None) -> None:
    require_role(actor, ADMIN)
    user = _user(uow, user_id, lock=True, version=version)
    before = {"locked_until": user.locked_until.isoformat() if user.locked_until else None}
    user.locked_until = None
    user.failed_logins = 0
    uow.audit(actor.user_id, "user.unlock", "user", user.id, before, {"locked_until": None})
    uow.commit()


@records_refusals("user.set_active", "user")
def set_active(
    actor: Actor, uow: UnitOfWork, user_id: int, active: bool, *, version: int | None = None
) -> None:
    require_role(actor, ADMIN)
    user = _user(uow, user_id, lock=True, version=version)
    if not active and user.role == ADMIN and _admins_left(uow, user.id) == 0:
        raise InvalidState("the last active admin cannot be deactivated")
    before = user.active
    user.active = active
    uow.audit(actor.user_id, "user.set_active", "user", user.id, {"active": before}, {"active": active})
    uow.commit()


@audits_refused_reads
def list_users(actor: Actor, uow: UnitOfWork, search: str = "", limit: int = 200) -> list[UserView]:
    require_role(actor, ADMIN)
    search = clean_text(search, "search", max_length=200, required=False)
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
    last_seen_at: datetime | None = None  # last sign-in or interaction (idle sessions expire by it)

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
    return _login_record(user)


def _login_record(user: User) -> LoginRecord:
    return LoginRecord(
        user.id,
        user.username,
        user.name,
        user.email,
        user.role,
        user.password_hash,
        user.locked_until,
        user.last_seen_at,
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
        # No id to name, and the typed name is not logged (it is sometimes a password typed in the wrong box).
        log.warning("login failed for an unknown username")
        return False
    locked_id = uow.session.execute(
        update(User)
        .where(User.id == user_id, User.failed_logins >= max_failures)
        .values(failed_logins=0, locked_until=func.now() + timedelta(minutes=lock_minutes))
        .returning(User.id)
    ).scalar_one_or_none()
    uow.audit(user_id, "login.failed", "user", user_id, after={"locked": locked_id is not None})
    uow.commit()
    with log_context(actor_id=user_id):
        if locked_id is not None:
            log.warning(
                "account %s locked for %d minutes after %d failed logins", user_id, lock_minutes, max_failures
            )
        else:
            log.warning("login failed for user %s", user_id)
    return locked_id is not None


def record_login_success(uow: UnitOfWork, username: str) -> None:
    uow.session.execute(
        update(User)
        .where(User.username == username.strip().lower())
        .values(failed_logins=0, locked_until=None, last_seen_at=datetime.now(UTC))
    )
    uow.commit()


def record_activity(uow: UnitOfWork, user_id: int, at: datetime | None = None) -> None:
    """The user interacted (or signed in) now: the clock their idle session expires by."""
    uow.session.execute(update(User).where(User.id == user_id).values(last_seen_at=at or datetime.now(UTC)))
    uow.commit()


def record_session_expired(uow: UnitOfWork, user_id: int, *, idle_minutes: int, source: str) -> None:
    uow.audit(
        user_id, "session.expired", "user", user_id, after={"idle_minutes": idle_minutes, "via": source}
    )
    uow.commit()


# --- sign-in through an OpenID Connect provider: matched by verified email, never self-service ----


class ProviderLoginRefused(AuthenticationError):
    """The provider vouched for someone who has no access here (yet)."""


def normalize_email(email: object) -> str:
    return email.strip() if isinstance(email, str) else ""


def _is_verified(email_verified: object) -> bool:
    # OIDC says boolean; a few providers send the string "true". Anything else is not verified.
    return email_verified is True or (isinstance(email_verified, str) and email_verified.lower() == "true")


def provider_login_record(uow: UnitOfWork, email: object, email_verified: object) -> LoginRecord:
    """The active user whose email (case-insensitive) the provider has verified; refuses otherwise.

    Read-only: runs on every interaction of a provider session, so a role change or a
    deactivation takes effect at once. Roles come from this database, never from the provider.
    A password lockout does not apply: it guards the password form, not the provider.
    """
    address = normalize_email(email)
    if not EMAIL.match(address):
        raise ProviderLoginRefused(
            "Your identity provider did not share an email address, so you cannot sign in."
        )
    if not _is_verified(email_verified):
        raise ProviderLoginRefused(
            f"Your identity provider has not verified the email address {address}, so it cannot be used "
            "to sign in here."
        )
    found = (
        uow.session.execute(
            select(User).where(func.lower(User.email) == address.lower(), User.active).limit(2)
        )
        .scalars()
        .all()
    )
    if not found:
        raise ProviderLoginRefused(
            f"There is no active account for {address}. Ask an administrator to invite this address."
        )
    if len(found) > 1:
        raise ProviderLoginRefused(
            f"More than one account uses {address}; an administrator must resolve it before you can sign in."
        )
    return _login_record(found[0])


def record_provider_refusal(uow: UnitOfWork, email: object, reason: str) -> None:
    """Audit a provider sign-in that was refused (no actor: nobody is signed in)."""
    uow.rollback()
    uow.record_refusal(None, "login.provider", "email", normalize_email(email)[:64] or None, reason)


def record_provider_login(uow: UnitOfWork, user_id: int, *, provider: str) -> None:
    """Audit a provider sign-in that was let in, and start the user's idle clock."""
    uow.session.execute(update(User).where(User.id == user_id).values(last_seen_at=datetime.now(UTC)))
    uow.audit(user_id, "login.provider", "user", user_id, after={"provider": provider[:100]})
    uow.commit()


def _username_for(uow: UnitOfWork, email: str) -> str:
    """A free username from the email's local part: `jane.doe`, else `jane.doe-2`, ..."""
    local = re.sub(r"[^a-z0-9_.-]+", "-", email.split("@", 1)[0].lower()).strip("-_.")
    base = (local or "user")[:56]
    if len(base) < 3:
        base = f"{base}-user"
    candidate, suffix = base, 1
    while uow.session.execute(select(User.id).where(User.username == candidate)).first():
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


@records_refusals("user.invite", "user")
def invite_user(actor: Actor, uow: UnitOfWork, email: str, *, role: str, name: str = "") -> UserView:
    """Let this email address sign in through the identity provider, with the role the admin chose.

    The user gets no usable password (the hash of a random secret that is thrown away): they sign in
    through the provider only, unless an admin later gives them one.
    """
    require_role(actor, ADMIN)
    address = normalize_email(email)
    if not EMAIL.match(address):
        raise ValidationError("email", "is not an email address")
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    name = clean_text(
        name.strip() if isinstance(name, str) and name.strip() else address.split("@", 1)[0],
        "name",
        max_length=200,
    )
    if uow.session.execute(select(User.id).where(func.lower(User.email) == address.lower())).first():
        raise ValidationError("email", "already belongs to a user")
    user = User(
        username=_username_for(uow, address),
        name=name,
        email=address,
        role=role,
        password_hash=hash_password(secrets.token_urlsafe(32)),
        must_change_password=False,
    )
    uow.session.add(user)
    uow.session.flush()
    uow.audit(
        actor.user_id,
        "user.invite",
        "user",
        user.id,
        after={"username": user.username, "email": address, "role": role},
    )
    uow.commit()
    return UserView.of(user)
