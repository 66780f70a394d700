"""Streamlit glue shared by Home.py and the pages: resources, login, the acting user, navigation.

Only Streamlit plumbing lives here; every rule is in the services it calls.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from app.textsafe import md
from core import bootstrap, logs, metrics, operations, ratelimit, runtime
from core.errors import DomainError, FieldErrors
from core.permissions import Actor
from core.services import users
from core.settings import SettingsError, settings
from core.uow import UnitOfWork

log = logging.getLogger("investment_pools.app")
T = TypeVar("T")


@st.cache_resource
def _started() -> bool:
    """Once per server process: refuse bad settings, say where the data lives, migrate, and refuse a
    production deployment with a default cookie key or demo passwords (bootstrap.check_production_ready)."""
    from db.migrate import upgrade

    logs.configure(settings().log_level, settings().log_format)
    try:
        settings().check()
        log.info(runtime.describe())
        upgrade(runtime.database_url())
        bootstrap.check_production_ready()
        # The cycle collector, tuned for pages that build hundreds of thousands of objects (a fund of
        # funds' portfolio, ten thousand pools in the explorer): what is loaded by now (Streamlit,
        # the app, its libraries) lives as long as the process, so it is frozen out of what a
        # collection walks; and a collection starts after 50,000 new objects rather than 700, so a
        # page's objects are not walked over and over while it builds them (a fifth of its time).
        gc.freeze()
        gc.set_threshold(50_000, 10, 10)
    except SettingsError as exc:
        log.error("refusing to start: %s", exc)
        st.error(
            "This deployment refuses to start: its configuration is unsafe. The reason is in the server log."
        )
        st.stop()
    return True


def unit_of_work() -> UnitOfWork:
    _started()
    return bootstrap.unit_of_work()


# --- login -----------------------------------------------------------------------------------------


class _Credentials(dict):
    """One user's entry as streamlit-authenticator sees it.

    The library keeps its failed-login counter in this dict, i.e. per process; writes to that
    key are turned into database updates, so every replica and every restart sees the same count.
    """

    def __init__(self, directory: _Directory, record: users.LoginRecord) -> None:
        super().__init__(
            password=record.password_hash,
            name=record.name,
            email=record.email,
            roles=[record.role],
            failed_login_attempts=0,
        )
        self._directory = directory
        self._username = record.username

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "failed_login_attempts":
            self._directory.record_attempt(self._username, succeeded=value == 0)
        super().__setitem__(key, value)


class _Directory(dict):
    """The library's `credentials['usernames']`, looked up in the database one user at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.locked: users.LoginRecord | None = None
        self.just_locked = False
        self.limited: ratelimit.RateLimited | None = None

    def guard(self, controller: Any) -> None:
        """Hold every submitted login form to the limits of failed logins (RateLimiter.check_login)
        before the password is checked, and count it against them only if it fails: a person who
        signs in ten times is not throttled. The re-login cookie (no username) is not an attempt."""
        original = controller.login

        def login(username: str | None = None, password: str | None = None, *args: Any, **kwargs: Any) -> Any:
            if not username:
                return original(username, password, *args, **kwargs)
            source = client_address()
            try:
                with unit_of_work() as uow:
                    uow.limiter.check_login(uow, str(username), source)
            except ratelimit.RateLimited as exc:
                self.limited = exc
                return False
            try:
                signed_in = original(username, password, *args, **kwargs)
            except LoginError:
                signed_in = False
                raise
            finally:
                if not signed_in:
                    with unit_of_work() as uow:
                        uow.limiter.record_login_failure(str(username), source)
            return signed_in

        controller.login = login

    def _record(self, username: object) -> users.LoginRecord | None:
        if not isinstance(username, str) or not username.strip():
            return None
        with unit_of_work() as uow:
            return users.login_record(uow, username)

    def __contains__(self, username: object) -> bool:
        record = self._record(username)
        if record is not None and record.locked:
            self.locked = record
            return False
        return record is not None

    def __getitem__(self, username: str) -> _Credentials:
        record = self._record(username)
        if record is None:
            raise KeyError(username)
        return _Credentials(self, record)

    def get(self, username: str, default: Any = None) -> Any:
        try:
            return self[username]
        except KeyError:
            return default

    def record_attempt(self, username: str, *, succeeded: bool) -> None:
        config = settings()
        with unit_of_work() as uow:
            if succeeded:
                users.record_login_success(uow, username)
                return
            metrics.LOGIN_FAILURES.inc()
            self.just_locked = users.record_login_failure(
                uow, username, max_failures=config.lockout_failures, lock_minutes=config.lockout_minutes
            )
            if self.just_locked:
                metrics.LOCKOUTS.inc()


def _authenticator() -> tuple[stauth.Authenticate, _Directory]:
    config = settings()
    authenticator = stauth.Authenticate(
        {"usernames": {}},
        cookie_name=config.cookie_name,
        cookie_key=config.cookie_secret,
        cookie_expiry_days=config.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )
    directory = _Directory()
    # The library copies the usernames dict at construction; hand it the database-backed one after.
    authenticator.authentication_controller.authentication_model.credentials["usernames"] = directory
    directory.guard(authenticator.authentication_controller)
    if config.cookie_expiry_days <= 0:  # re-login cookies off: none is written, none honoured
        authenticator.cookie_controller.get_cookie = lambda: None
    return authenticator, directory


def client_address() -> str | None:
    """The browser's address, for per-source login limits: from X-Forwarded-For when the app runs
    behind TRUSTED_PROXY_HOPS proxies that append to it (the entry the outermost trusted proxy saw;
    entries left of it are the client's to forge), else the websocket peer's address."""
    hops = settings().trusted_proxy_hops
    try:
        forwarded = st.context.headers.get("X-Forwarded-For") if hops else None
        peer = st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser context (bare mode, tests): no source
        return None
    chain = [part.strip() for part in (forwarded if isinstance(forwarded, str) else "").split(",")]
    chain = [part for part in chain if part]
    if chain:
        return chain[-hops] if len(chain) >= hops else chain[0]
    return peer if isinstance(peer, str) and peer else None


def _local_record(username: str | None) -> users.LoginRecord | None:
    """The active, unlocked user behind a local login; re-read every run."""
    if not username:
        return None
    with unit_of_work() as uow:
        record = users.login_record(uow, username)
    if record is None or record.locked:
        return None
    return record


def _signed_in(authenticator: stauth.Authenticate, location: str) -> users.LoginRecord | None:
    """Run the library's login at `location` and map its outcome to the user's record (or None)."""
    try:
        authenticator.login(location=location, fields={"Form name": "Log in to Investment Pools"})
    except LoginError as exc:
        st.error(str(exc))
    if not st.session_state.get("authentication_status"):
        return None
    record = _local_record(st.session_state.get("username"))
    if record is None:
        # A cookie or session of a user who has since been deactivated or locked.
        authenticator.logout(location="unrendered")
    return record


# --- sign-in with an OpenID Connect provider (st.login), beside the local accounts ---------------


def provider_name() -> str | None:
    """The configured identity provider's display name; None when OIDC is not configured."""
    oidc = settings().oidc
    return None if oidc is None else oidc.provider_name


def _install_auth_secrets() -> None:
    """Hand Streamlit the [auth] section built from settings (OIDC_* variables or secrets.toml).

    Streamlit's login routes read its secrets on every request, so installing the section at the
    first run of each server process is enough; this is a cheap no-op on every later run.
    """
    oidc = settings().oidc
    if oidc is None:
        return
    from streamlit.runtime.secrets import secrets_singleton

    wanted = oidc.streamlit_auth()
    current: object = None
    if secrets_singleton.load_if_toml_exists():
        section = secrets_singleton.get("auth")
        current = section.to_dict() if section is not None and hasattr(section, "to_dict") else section
    if current != wanted:
        secrets_singleton.merge_programmatic_secrets({"auth": wanted})  # type: ignore[dict-item]


def _provider_claims() -> dict[str, Any] | None:
    """The identity st.user holds for this browser, when a provider sign-in is configured and done."""
    if settings().oidc is None:
        return None
    claims = st.user.to_dict()
    return claims if claims.get("is_logged_in") is True else None


def _provider_record(claims: dict[str, Any]) -> users.LoginRecord | None:
    """Match the provider's verified email to an active user (roles are ours); audit each outcome
    once per session: the first sign-in, and a refusal with its reason."""
    email, verified = claims.get("email"), claims.get("email_verified")
    key = users.normalize_email(email).lower()
    audited = st.session_state.get("_provider_audited")
    st.session_state.pop("_provider_refused", None)
    with unit_of_work() as uow:
        try:
            record = users.provider_login_record(uow, email, verified)
        except users.ProviderLoginRefused as exc:
            if audited != (key, False):
                users.record_provider_refusal(uow, email, exc.message)
                st.session_state["_provider_audited"] = (key, False)
            st.session_state["_provider_refused"] = exc.message
            return None
    return record


def _login_time(claims: dict[str, Any] | None) -> float | None:
    """When the provider signed this browser in (the ID token's auth_time or iat), if it says."""
    for claim in ("auth_time", "iat"):
        value = (claims or {}).get(claim)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # float-ok: seconds since the epoch, not money
    return None


# --- sessions: idle expiry, sign-out ------------------------------------------------------------

_ACTIVITY_WRITE_SECONDS = 60  # the database's last_seen_at lags an active session by at most this
_SESSION_KEYS = ("_identity", "_last_seen", "_activity_written")


def _idle_expired(source: str, record: users.LoginRecord, claims: dict[str, Any] | None) -> bool:
    """True when this sign-in has been idle longer than SESSION_IDLE_MINUTES.

    Within a session the clock is the session's own last run. A new session (a reload, a new tab,
    the re-login cookie or the provider's cookie) continues from the user's last activity in the
    database, or from a newer provider sign-in: pressing F5 does not reset the clock.
    """
    now = time.time()
    if st.session_state.get("_identity") == (source, record.id) and "_last_seen" in st.session_state:
        last = st.session_state["_last_seen"]
    else:
        known = [record.last_seen_at.timestamp() if record.last_seen_at else None, _login_time(claims)]
        seen = [value for value in known if value is not None]
        last = max(seen) if seen else now
    return now - last > settings().session_idle_minutes * 60


def _note_activity(source: str, record: users.LoginRecord) -> None:
    now = time.time()
    if st.session_state.get("_identity") != (source, record.id):
        st.session_state["_identity"] = (source, record.id)
        st.session_state.pop("_activity_written", None)
    st.session_state["_last_seen"] = now
    if now - st.session_state.get("_activity_written", 0.0) >= _ACTIVITY_WRITE_SECONDS:
        with unit_of_work() as uow:
            users.record_activity(uow, record.id)
        st.session_state["_activity_written"] = now


def _expire(source: str, record: users.LoginRecord, authenticator: stauth.Authenticate) -> None:
    """Sign out an idle session, say why, audit it once. A provider session keeps its (now refused)
    cookie until the person signs in again or out: st.logout() would leave the app and lose the message."""
    minutes = settings().session_idle_minutes
    st.session_state["_signed_out_notice"] = (
        f"You were signed out after {minutes} minutes of inactivity. Please sign in again."
    )
    if st.session_state.get("_expired_audited") != (source, record.id):
        with unit_of_work() as uow:
            users.record_session_expired(uow, record.id, idle_minutes=minutes, source=source)
        st.session_state["_expired_audited"] = (source, record.id)
    if source == "local":
        authenticator.logout(location="unrendered")
        for key in _SESSION_KEYS:
            st.session_state.pop(key, None)


def current_actor() -> Actor | None:
    """Who is signed in (this session, the re-login cookie or the provider's); draws nothing.

    Every run re-reads the user, so a role change or deactivation takes effect on the next
    interaction, and checks the idle clock."""
    _install_auth_secrets()
    authenticator, directory = _authenticator()
    st.session_state["_authenticator"] = authenticator
    st.session_state["_directory"] = directory
    source, claims = "local", None
    record = _signed_in(authenticator, "unrendered")
    if record is None and (claims := _provider_claims()) is not None:
        source, record = "provider", _provider_record(claims)
    actor = None
    if record is not None:
        if _idle_expired(source, record, claims):
            _expire(source, record, authenticator)
        else:
            st.session_state.pop("_signed_out_notice", None)
            st.session_state.pop("_expired_audited", None)
            _note_activity(source, record)
            if source == "provider" and st.session_state.get("_provider_audited") != (
                key := (record.email.lower(), True)
            ):
                with unit_of_work() as uow:
                    users.record_provider_login(uow, record.id, provider=provider_name() or "provider")
                st.session_state["_provider_audited"] = key
            actor = Actor(record.id, record.role, record.username)
    st.session_state["_source"] = source if actor is not None else None
    st.session_state["actor"] = actor
    return actor


def _provider_section() -> None:
    """The provider's part of the login page: its button, or why its sign-in was refused."""
    name = provider_name()
    if name is None:
        return
    refused = st.session_state.get("_provider_refused")
    if refused and _provider_claims() is not None:
        st.error(md(refused))  # it quotes the address the provider sent: shown as text
        if st.button(f"Sign out of {name}", key="provider_sign_out"):
            st.logout()
        return
    if st.button(f"Sign in with {name}", key="provider_sign_in", type="primary", icon=":material/key:"):
        st.login()
    st.caption("or with a username and password:")


def login_message(*, limited: ratelimit.RateLimited | None, failed: bool) -> str | None:
    """What a refused login says. One message whether the username is unknown, the password wrong or
    the account locked: which of them it was would tell a stranger that the account exists."""
    if limited is not None:
        return limited.message
    if failed:
        return (
            "Username or password is incorrect, or the account is locked after too many failed "
            f"logins (for {settings().lockout_minutes} minutes; an admin can unlock it sooner)."
        )
    return None


def login_page() -> None:
    """The only page anyone sees before logging in, at a reading width."""
    directory: _Directory = st.session_state["_directory"]
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        if (notice := st.session_state.get("_signed_out_notice")) is not None:
            st.warning(notice)
        _provider_section()
        record = _signed_in(st.session_state["_authenticator"], "main")
        if record is not None:
            st.session_state.pop("_signed_out_notice", None)
            st.rerun()
        failed = (
            directory.locked is not None
            or directory.just_locked
            or st.session_state.get("authentication_status") is False
        )
        message = login_message(limited=directory.limited, failed=failed)
        if message:
            st.error(message)
        st.caption("Demo logins are listed in the README.")


def logout_button() -> None:
    """Sign out: the local session and re-login cookie, and the provider's session (st.logout)."""
    authenticator = st.session_state.get("_authenticator")
    if authenticator is not None and st.sidebar.button("Log out", key="sign_out"):
        provider = st.session_state.get("_source") == "provider" or _provider_claims() is not None
        if st.session_state.get("authentication_status"):  # the library refuses to log out nobody
            authenticator.logout(location="unrendered")
        for key in (*_SESSION_KEYS, "_provider_audited", "_source"):
            st.session_state.pop(key, None)
        st.session_state["actor"] = None
        if provider:
            st.logout()  # ends the session and leaves for the provider's logout, then back here
            st.stop()  # a rerun now could overtake the redirect st.logout() just queued
        st.rerun()


# --- pages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    default: bool = False


# Each role's pages, in sidebar order. A page also checks the role itself (require_actor).
PAGES: dict[str, list[PageSpec]] = {
    "investor": [
        PageSpec(
            "pages/investor_portfolio.py", "Portfolio", ":material/account_balance_wallet:", default=True
        ),
        PageSpec("pages/investor_pool_detail.py", "Pool detail", ":material/query_stats:"),
        PageSpec("pages/investor_open_pools.py", "Open pools", ":material/storefront:"),
        PageSpec("pages/investor_capital_calls.py", "Capital calls", ":material/payments:"),
        PageSpec("pages/investor_statements.py", "Statements", ":material/description:"),
        PageSpec("pages/investor_documents.py", "Documents", ":material/folder_open:"),
    ],
    "fund_manager": [
        PageSpec("pages/manager_pools.py", "My pools", ":material/folder_managed:", default=True),
        PageSpec("pages/manager_pool_form.py", "Create / edit pool", ":material/edit_note:"),
        PageSpec("pages/manager_commitments.py", "Commitments", ":material/handshake:"),
        PageSpec("pages/manager_calls.py", "Capital calls", ":material/request_quote:"),
        PageSpec("pages/manager_portfolio.py", "Portfolio", ":material/business_center:"),
        PageSpec("pages/manager_distributions.py", "Distributions", ":material/payments:"),
        PageSpec("pages/manager_documents.py", "Documents", ":material/folder_open:"),
        PageSpec("pages/manager_corrections.py", "Corrections", ":material/undo:"),
        PageSpec("pages/manager_dashboard.py", "Pool dashboard", ":material/monitoring:"),
    ],
    "analyst": [
        PageSpec("pages/analyst_explorer.py", "Explorer", ":material/insights:", default=True),
        PageSpec("pages/analyst_compare.py", "Compare pools", ":material/compare_arrows:"),
    ],
    "admin": [
        PageSpec("pages/admin_users.py", "Users", ":material/group:", default=True),
        PageSpec("pages/admin_exports.py", "Exports", ":material/download:"),
        PageSpec("pages/admin_audit.py", "Audit log", ":material/history:"),
        PageSpec("pages/admin_operations.py", "Operations health", ":material/monitor_heart:"),
        PageSpec("pages/admin_approvals.py", "Approvals", ":material/approval:"),
    ],
}


def navigation_for(actor: Actor) -> list[Any]:
    return [
        st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec.default)
        for spec in PAGES.get(actor.role, [])
    ]


def require_actor(*roles: str) -> Actor:
    """First line of every page: the page is reachable only by these roles, whatever the URL says."""
    actor: Actor | None = st.session_state.get("actor")
    if actor is None or actor.role not in roles:
        st.error("This page is not available to you.")
        st.stop()
    return actor


@contextmanager
def refusals_shown() -> Iterator[None]:
    """Show a service's refusal on the page (every error of a form at once); the app keeps running."""
    try:
        yield
    except FieldErrors as exc:
        st.error("\n".join(f"- {md(error.message)}" for error in exc.errors))
    except DomainError as exc:
        st.error(md(exc.message))  # a refusal may quote what the user typed: shown as text


def choose(
    label: str,
    items: Sequence[T],
    describe: Callable[[T], str],
    *,
    key: str,
    selected: object = None,
    gone: str = "The choice you had made is no longer available; nothing was done. Choose again.",
    **options: Any,
) -> T | None:
    """A select box whose options are the items' ids, not the items: an item's view changes as
    figures land between runs, and a changed option would silently move the choice to another one
    (a second tab once paid another investor's item). Nothing is chosen until the person chooses
    (unless `selected` names an id); a choice that has disappeared since (paid in another tab,
    decided by someone else) is cleared with the `gone` message, never replaced by the next item.
    Streamlit keeps a choice by its option's label, so `describe` should give an item a label that
    does not change with its figures; one that does fails safe, as a "gone" choice."""
    by_id = {item.id: item for item in items}  # type: ignore[attr-defined]
    current = st.session_state.get(key)
    if current is not None and current not in by_id:
        del st.session_state[key]
        st.warning(gone)
    if key in st.session_state:
        chosen = st.selectbox(
            label, list(by_id), key=key, format_func=lambda i: describe(by_id[i]), **options
        )
    else:
        index = list(by_id).index(selected) if selected in by_id else None
        chosen = st.selectbox(
            label, list(by_id), index=index, key=key, format_func=lambda i: describe(by_id[i]), **options
        )
    return by_id.get(chosen)


def form_key(name: str) -> str:
    """The key of a form's widgets: a new one after each success (reset_form), so every input
    starts empty again and no choice survives into the next request."""
    return f"{name}-{st.session_state.get(f'_form_generation_{name}', 0)}"


def reset_form(name: str) -> None:
    slot = f"_form_generation_{name}"
    st.session_state[slot] = st.session_state.get(slot, 0) + 1


def confirmed(
    key: str, button: str, question: str, *, yes: str, about: object = None, **button_options: Any
) -> bool:
    """An irreversible action asks first. The button opens `question` (what will happen and what
    cannot be undone, already escaped for markdown); only `yes` acts. `about` is what the question
    was asked about (an id and version, the previewed command): if that changes before the answer,
    the question is withdrawn and must be asked again."""
    slot = f"_confirm_{key}"
    if slot in st.session_state and st.session_state[slot] != about:
        del st.session_state[slot]
    if slot not in st.session_state:
        if st.button(button, key=f"{key}-ask", **button_options):
            st.session_state[slot] = about
            st.rerun()
        return False
    with st.container(border=True):
        st.warning(question, icon=":material/help:")
        left, right = st.columns(2)
        if left.button(yes, key=f"{key}-yes", type="primary"):
            del st.session_state[slot]
            return True
        if right.button("Cancel", key=f"{key}-no"):
            del st.session_state[slot]
            st.rerun()
    return False


def call(service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one service in its own unit of work as the logged-in actor."""
    with unit_of_work() as uow:
        return service(st.session_state["actor"], uow, *args, **kwargs)


# --- durable operations on a page --------------------------------------------------------------------


def submit(service: Callable[..., Any], command: Any, *, form: str, done: str) -> None:
    """Submit a previewed command through its service (payments.record, calls.issue, ...) and follow
    the operation(s) it returns until posted; the form resets once it has succeeded.

    The idempotency key is the request itself (operations.derived_key), so a double click or the
    same form sent from a second tab is the operation already recorded, which is said so."""
    with unit_of_work() as uow:
        result = service(st.session_state["actor"], uow, command)
    statuses = result if isinstance(result, list) else [result]
    if all(status.replayed for status in statuses):
        st.session_state.setdefault("_finished", {})[form] = (
            "info",
            "This was already recorded, once; it was not recorded again.",
        )
        if all(status.finished for status in statuses):
            return  # nothing to follow: following would report it done anew, over this notice
    ids = [str(status.id) for status in statuses]
    st.session_state.setdefault("_following", {})[form] = ids[0] if len(ids) == 1 else ids
    st.session_state.setdefault("_done_messages", {})[form] = done


def start_following(form: str, operation_id: object) -> None:
    """Follow an operation a service started itself (an export): follow_operation(form) then shows it."""
    st.session_state.setdefault("_following", {})[form] = str(operation_id)


def follow_operation(form: str, *, done_message: str | None = None) -> None:
    """A progress bar for the operation a form started, refreshed until it finishes; then the form
    resets (on success) and the whole page reruns once so every figure on it shows the result."""
    done_message = st.session_state.get("_done_messages", {}).get(form) or done_message or "Done."
    following = st.session_state.get("_following", {}).get(form)
    if following is None:
        return
    operation_ids = [following] if isinstance(following, str) else following

    # One operation: a quarter-second look (one primary-key read) so a call posted in half a second
    # shows as posted within a second of the click; a statement's many: once a second.
    @st.fragment(run_every=0.25 if len(operation_ids) == 1 else 1.0)
    def progress() -> None:
        try:
            with unit_of_work() as uow:
                statuses = operations.operation_statuses(st.session_state["actor"], uow, operation_ids)
        except DomainError as exc:  # an id that is not this user's to follow: refuse, stop following
            st.session_state["_following"].pop(form, None)
            st.error(md(exc.message))
            return
        failed = [s for s in statuses if s.status == "failed"]
        if all(s.finished for s in statuses):
            st.session_state["_following"].pop(form, None)
            if not failed:
                outcome = ("success", done_message)
                reset_form(form)
            elif len(statuses) == 1:
                outcome = ("error", f"Refused: {md(failed[0].error)}")
            else:
                outcome = (
                    "error",
                    f"{len(failed):,} of {len(statuses):,} refused, the rest posted. First refusal: "
                    f"{md(failed[0].error)}",
                )
            st.session_state.setdefault("_finished", {})[form] = outcome
            st.rerun(scope="app")
        elif len(statuses) == 1:
            status = statuses[0]
            label = f"{status.kind.replace('_', ' ')}: {status.status}"
            if status.progress_total:
                label += f" ({status.progress_done:,} of {status.progress_total:,})"
            st.progress(status.fraction, text=label)
        else:
            finished = sum(s.finished for s in statuses)
            st.progress(
                finished / len(statuses),
                text=f"{statuses[0].kind.replace('_', ' ')}s: {finished:,} of {len(statuses):,} processed",
            )

    progress()


def show_finished(form: str) -> None:
    """The outcome of the last operation this form started, once."""
    finished = st.session_state.get("_finished", {}).pop(form, None)
    if finished is not None:
        kind, message = finished
        {"success": st.success, "info": st.info}.get(kind, st.error)(message)
