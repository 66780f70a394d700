"""Streamlit glue shared by Home.py and the pages: resources, login, the acting user, navigation.

Only Streamlit plumbing lives here; every rule is in the services it calls.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from core import logs, metrics, operations, runtime
from core.errors import DomainError
from core.permissions import Actor
from core.services import users
from core.settings import settings
from db.session import UnitOfWork

log = logging.getLogger("investment_pools.app")


@st.cache_resource
def _started() -> bool:
    """Once per server process: refuse bad settings, say where the data lives, migrate."""
    from db.migrate import upgrade

    settings().check()
    logs.configure(settings().log_level, settings().log_format)
    log.info(runtime.describe())
    upgrade(runtime.database_url())
    return True


def unit_of_work() -> UnitOfWork:
    _started()
    return runtime.unit_of_work()


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
    return authenticator, directory


def _actor_for(username: str | None) -> Actor | None:
    """Re-read every run: a role change or deactivation takes effect at once."""
    if not username:
        return None
    with unit_of_work() as uow:
        record = users.login_record(uow, username)
    if record is None or record.locked:
        return None
    return Actor(record.id, record.role, record.username)


def _signed_in(authenticator: stauth.Authenticate, location: str) -> Actor | None:
    """Run the library's login at `location` and map its outcome to an Actor (or None)."""
    try:
        authenticator.login(location=location, fields={"Form name": "Log in to Investment Pools"})
    except LoginError as exc:
        st.error(str(exc))
    if not st.session_state.get("authentication_status"):
        return None
    actor = _actor_for(st.session_state.get("username"))
    if actor is None:
        # A cookie or session of a user who has since been deactivated or locked.
        authenticator.logout(location="unrendered")
    return actor


def current_actor() -> Actor | None:
    """Who is logged in (from this session or the re-login cookie); draws nothing."""
    authenticator, directory = _authenticator()
    st.session_state["_authenticator"] = authenticator
    st.session_state["_directory"] = directory
    actor = _signed_in(authenticator, "unrendered")
    st.session_state["actor"] = actor
    return actor


def login_page() -> None:
    """The only page anyone sees before logging in."""
    directory: _Directory = st.session_state["_directory"]
    actor = _signed_in(st.session_state["_authenticator"], "main")
    st.session_state["actor"] = actor
    if actor is not None:
        st.rerun()
    if directory.locked is not None or directory.just_locked:
        st.error(
            f"Too many failed logins: this account is locked for {settings().lockout_minutes} minutes. "
            "An admin can unlock it sooner."
        )
    elif st.session_state.get("authentication_status") is False:
        st.error("Username or password is incorrect.")
    st.caption("Demo logins are listed in the README.")


def logout_button() -> None:
    authenticator = st.session_state.get("_authenticator")
    if authenticator is not None and st.sidebar.button("Log out", key="sign_out"):
        authenticator.logout(location="unrendered")
        st.session_state["actor"] = None
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
    ],
    "fund_manager": [
        PageSpec("pages/manager_pools.py", "My pools", ":material/folder_managed:", default=True),
        PageSpec("pages/manager_pool_form.py", "Create / edit pool", ":material/edit_note:"),
        PageSpec("pages/manager_commitments.py", "Commitments", ":material/handshake:"),
        PageSpec("pages/manager_calls.py", "Capital calls", ":material/request_quote:"),
        PageSpec("pages/manager_portfolio.py", "Portfolio", ":material/business_center:"),
        PageSpec("pages/manager_distributions.py", "Distributions", ":material/payments:"),
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
    """Show a service's refusal as a message on the page; the app keeps running."""
    try:
        yield
    except DomainError as exc:
        st.error(exc.message)


def call(service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one service in its own unit of work as the logged-in actor."""
    with unit_of_work() as uow:
        return service(st.session_state["actor"], uow, *args, **kwargs)


def money_column(label: str, currency: str) -> Any:
    """Numbers stay numbers in tables (sortable, exact in exports); only the display carries the currency."""
    preset = {"USD": "dollar", "EUR": "euro", "JPY": "yen"}.get(currency)
    return st.column_config.NumberColumn(
        label if preset else f"{label} ({currency})", format=preset or "accounting"
    )


# --- durable operations on a page --------------------------------------------------------------------


def form_key(name: str) -> str:
    """One idempotency key per form showing: a double click or a resent form submits once."""
    slot = f"_form_key_{name}"
    if slot not in st.session_state:
        st.session_state[slot] = secrets.token_hex(16)
    return st.session_state[slot]


def submit_operation(pool_id: int, kind: str, payload: dict[str, Any], *, form: str) -> Any:
    """Record a money-moving request and trigger its job; the page then follows its progress."""
    with unit_of_work() as uow:
        status = operations.submit(
            st.session_state["actor"],
            uow,
            pool_id,
            kind,
            payload,
            idempotency_key=f"{kind}:{form_key(form)}",
            queue=runtime.operations_queue(),
        )
    st.session_state.pop(f"_form_key_{form}", None)  # the next submission is a new request
    st.session_state.setdefault("_following", {})[form] = str(status.id)
    return status


def start_following(form: str, operation_id: object) -> None:
    """Follow an operation a service started itself (an export): follow_operation(form) then shows it."""
    st.session_state.setdefault("_following", {})[form] = str(operation_id)


def follow_operation(form: str, *, done_message: str = "Done.") -> None:
    """A progress bar for the operation a form started, refreshed until it finishes; then the
    whole page reruns once so every figure on it shows the posted result."""
    operation_id = st.session_state.get("_following", {}).get(form)
    if operation_id is None:
        return

    @st.fragment(run_every=1.0)
    def progress() -> None:
        try:
            with unit_of_work() as uow:
                status = operations.operation_status(st.session_state["actor"], uow, operation_id)
        except DomainError as exc:  # an id that is not this user's to follow: refuse, stop following
            st.session_state["_following"].pop(form, None)
            st.error(exc.message)
            return
        if status.status == "done":
            st.session_state["_following"].pop(form, None)
            st.session_state.setdefault("_finished", {})[form] = ("success", done_message)
            st.rerun(scope="app")
        elif status.status == "failed":
            st.session_state["_following"].pop(form, None)
            st.session_state.setdefault("_finished", {})[form] = ("error", f"Refused: {status.error}")
            st.rerun(scope="app")
        else:
            label = f"{status.kind.replace('_', ' ')}: {status.status}"
            if status.progress_total:
                label += f" ({status.progress_done:,} of {status.progress_total:,})"
            st.progress(status.fraction, text=label)

    progress()


def show_finished(form: str) -> None:
    """The outcome of the last operation this form started, once."""
    finished = st.session_state.get("_finished", {}).pop(form, None)
    if finished is not None:
        kind, message = finished
        (st.success if kind == "success" else st.error)(message)
