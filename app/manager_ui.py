"""Streamlit helpers shared by the fund manager's pages: the pool picker, tables, previews that ask
before they act, and the pool's open and close confirmations.

Plumbing only: every figure comes from core.views.manager and every rule from the services; amounts
are formatted by app.format. User text (pool, investor and company names, purposes, memos,
references) goes through md() wherever it lands in markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa
import streamlit as st

from app import format, webapp
from app.textsafe import md
from core import operations
from core.errors import DomainError, FieldErrors
from core.money import MINOR_UNITS
from core.services import commitments, payments, pools
from core.uow import UnitOfWork
from core.views import manager
from core.vocabulary import label

T = TypeVar("T")
POOL_KEY = "manager_pool_id"  # the pool the manager last worked on, shared by their pages
FLASH_KEY = "_manager_flash"
OVERDUE_STYLE = "background-color: rgba(255, 75, 75, 0.15)"


def status(code: str) -> str:
    """A status as people read it: partially_paid -> Partially paid."""
    return label(code).capitalize()


def flash(message: str) -> None:
    """Say what happened on the next run (after st.rerun); message already escaped for markdown."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message)


Figure = tuple[str, str, str | None]  # label, value as shown, why (a tooltip)


def amount(label_: str, value: Decimal | None, currency: str, why: str | None = None) -> Figure:
    """A figure for figures(): an amount in full ($1,600,000.00, never 1.60M); n/a where there is none."""
    return label_, format.money(value, currency), why


def figures(*shown: Figure) -> None:
    """Metric tiles in a row that wraps at their own width, so no amount is ever cut short."""
    with st.container(horizontal=True, gap="medium"):
        for name, value, why in shown:
            st.metric(name, value, help=why, width="content")


def choose_pool(statuses: tuple[str, ...] | None = None, *, empty: str = "You have no pools yet.") -> Any:
    """A select box of the manager's own pools (in these statuses); the choice follows them from
    page to page. A pool id planted in the session that is not theirs goes to the view, which
    refuses it (and audits the attempt)."""
    mine = webapp.call(pools.list_pools)
    wanted = st.session_state.get(POOL_KEY)
    if wanted is not None and wanted not in {p.id for p in mine}:
        st.session_state.pop(POOL_KEY, None)
        with webapp.refusals_shown():
            webapp.call(manager.managed_pool, wanted)
        st.stop()
    shown = [p for p in mine if statuses is None or p.status in statuses]
    if not shown:
        st.info(empty)
        st.stop()
    # The remembered pool is the picker's value on every page (a user-set value, which Streamlit
    # honours even where the page's list differs); a choice made here becomes the remembered one.
    picker = "manager_pool_picker"
    shown_ids = [p.id for p in shown]
    st.session_state[picker] = wanted if wanted in shown_ids else shown_ids[0]
    pool = webapp.choose(
        "Pool",
        shown,
        lambda p: f"{p.name} ({label(p.status)})",
        key=picker,
        on_change=lambda: st.session_state.__setitem__(POOL_KEY, st.session_state[picker]),
    )
    if pool is None:
        st.stop()
    st.session_state[POOL_KEY] = pool.id
    return pool


def deferred(service: Callable[..., T], *args: object) -> Callable[[], T]:
    """A view for st.download_button(data=...): run on click, in Streamlit's download thread, as
    the actor who is logged in now (that thread has no session state)."""
    actor = st.session_state["actor"]

    def run() -> T:
        with webapp.unit_of_work() as uow:
            return service(actor, uow, *args)

    return run


def table(
    columns: dict[str, Sequence[Any]],
    currency: str,
    *,
    money: Sequence[str] = (),
    dates: Sequence[str] = (),
    widths: dict[str, Any] | None = None,
    highlight: Sequence[bool] | None = None,
    **options: Any,
) -> None:
    """A sortable table: money columns exact decimals at the currency's scale, shown with its
    symbol; dates ISO; `widths` (pixels, or small/medium/large) so a table of long names fits the
    page from 1024 px up; rows flagged in `highlight` (overdue items) tinted. Built as an Arrow
    table with the types given, an order of magnitude faster than letting pandas guess them."""
    decimal = pa.decimal128(24, MINOR_UNITS[currency])
    data = pa.table(
        {
            name: pa.array(values, type=decimal) if name in money else pa.array(values)
            for name, values in columns.items()
        }
    )
    sized = widths or {}
    config: dict[str, Any] = {name: st.column_config.TextColumn(name, width=w) for name, w in sized.items()}
    config |= {name: format.money_column(name, currency, width=sized.get(name)) for name in money}
    config |= {name: format.date_column(name, width=sized.get(name)) for name in dates}
    shown: Any = data
    if highlight is not None and any(highlight):
        shown = data.to_pandas().style.apply(
            lambda row: [OVERDUE_STYLE if highlight[row.name] else ""] * len(row), axis=1
        )
    st.dataframe(shown, hide_index=True, column_config=config, **options)


def chart(traces: list[dict[str, Any]], *, height: int = 340, **layout: Any) -> None:
    """A plotly chart built from plain dicts in one go; amounts already floats (app.charts.plot_float),
    at this last step only. Amount axes tick in full (1,500,000, never 1.5M); the legend sits below
    the plot, clear of the toolbar."""
    layout["yaxis"] = {"tickformat": ",.0f", **layout.get("yaxis", {})}
    st.plotly_chart(
        {
            "data": traces,
            "layout": {
                "height": height,
                "margin": {"t": 10, "b": 10},
                "legend": {"orientation": "h", "y": -0.15},
                **layout,
            },
        },
        width="stretch",
    )


# --- previews that ask before they act ----------------------------------------------------------------


class Checked:
    """A preview and how it went: .preview (None when refused), .reused (a wire reference already on
    another investor's item was refused: the page may offer to confirm it)."""

    def __init__(self) -> None:
        self.preview: Any = None
        self.reused = False


def previewed(service: Callable[..., T], *args: Any) -> Checked:
    """Run a preview as the actor; a refusal is shown (every error of the form at once)."""
    checked = Checked()
    with webapp.refusals_shown():
        try:
            checked.preview = webapp.call(service, *args)
        except DomainError as exc:
            errors = exc.errors if isinstance(exc, FieldErrors) else [exc]
            checked.reused = any(isinstance(e, payments.ReferenceReused) for e in errors)
            raise
    return checked


def act(
    form: str,
    preview: Any,
    service: Callable[..., Any],
    *,
    button: str,
    question: str,
    yes: str,
    done: str,
) -> bool:
    """The button that acts on a preview: it asks `question` first (what will happen, what cannot be
    undone), then submits exactly the previewed command and follows it; `done` says what happened.
    A preview that changes before the answer withdraws the question. True once submitted."""
    command = None if preview is None else getattr(preview, "command", preview)
    # With nothing previewed the button is disabled (and a question left open is withdrawn).
    if (
        webapp.confirmed(
            form, button, question, yes=yes, about=command, disabled=command is None, type="primary"
        )
        and command is not None
    ):
        with webapp.refusals_shown():
            webapp.submit(service, command, form=form, done=done)
            return True
    return False


def record_statement(
    actor: Any, uow: UnitOfWork, commands: tuple[payments.RecordPayment, ...]
) -> list[operations.OperationStatus]:
    """A bank statement's payments as read and shown, each its own operation."""
    return payments.record_many(actor, uow, commands[0].pool_id, list(commands))


def accept_plan(actor: Any, uow: UnitOfWork, plan: manager.ScaleDownPlan) -> operations.OperationStatus:
    """Submit a scale-down plan as it was shown: refused as stale if the pool's commitments moved."""
    command = commitments.SettleMany(
        plan.pool_id, tuple((row.commitment_id, row.proposed) for row in plan.accepted), plan.pool_version
    )
    return commitments.settle_many(actor, uow, command)


# --- opening and closing a pool ----------------------------------------------------------------------


def open_question(pool: pools.Lifecycle) -> str:
    return (
        f"Open {md(pool.name)} for commitments? Eligible investors can then commit to it, and its terms "
        "are fixed from then on: only the close date can still change. A pool cannot go back to draft."
    )


def close_question(pool: pools.Lifecycle) -> str:
    cur = pool.currency
    waiting = (
        f" The {format.count(pool.pending, 'pending commitment')} ({format.money(pool.pending_amount, cur)}) "
        "can still be accepted or rejected afterwards."
        if pool.pending
        else ""
    )
    return (
        f"Close {md(pool.name)} with {format.money(pool.committed, cur)} committed "
        f"by {format.count(pool.investors, 'investor')} (target {format.money(pool.target_size, cur)})? "
        "It takes no new commitments from then on, and capital can only be called from the commitments "
        f"accepted. A closed pool cannot be reopened.{waiting}"
    )


def lifecycle_button(pool_id: int, target: str, *, key: str, **options: Any) -> None:
    """Open or close a pool, asking first with what it means as of now; says what happened."""
    try:
        state = webapp.call(pools.lifecycle, pool_id)
    except DomainError as exc:
        st.error(md(exc.message))
        return
    opening = target == "open"
    question = open_question(state) if opening else close_question(state)
    button = "Open for commitments" if opening else "Close the pool"
    yes = "Yes, open it" if opening else "Yes, close it"
    if webapp.confirmed(key, button, question, yes=yes, about=(state.pool_id, state.version), **options):
        with webapp.refusals_shown():
            service = pools.open_pool if opening else pools.close_pool
            webapp.call(service, state.pool_id, version=state.version)
            flash(
                f"{md(state.name)} is open for commitments."
                if opening
                else f"{md(state.name)} is closed with {format.money(state.committed, state.currency)} "
                "committed: capital calls can start."
            )
            st.rerun()
