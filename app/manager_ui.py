"""Streamlit helpers shared by the fund manager's pages: the pool picker, tables, previews that ask
before they act, and the pool's open and close confirmations.

Plumbing only: every figure comes from core.views.manager and every rule from the services; amounts
are formatted by app.format. User text (pool, investor and company names, purposes, memos,
references) goes through md() wherever it lands in markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa
import streamlit as st

from app import format, webapp
from app.notices_ui import WHEN
from app.textsafe import md
from core import operations
from core.domain import grouped_iban
from core.errors import DomainError, FieldErrors, ValidationError, field_label
from core.money import MINOR_UNITS, quantize
from core.services import commitments, notices, payments, pools
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


def chart(traces: list[dict[str, Any]], *, height: int = 340, key: str | None = None, **layout: Any) -> None:
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
        key=key,
    )


# --- previews that ask before they act ----------------------------------------------------------------


class Checked:
    """A preview and how it went: .preview (None when refused), .reused (a wire reference already on
    another investor's item was refused: the page may offer to confirm it)."""

    def __init__(self) -> None:
        self.preview: Any = None
        self.reused = False


def previewed(service: Callable[..., T], *args: Any, **kwargs: Any) -> Checked:
    """Run a preview as the actor; a refusal is shown (every error of the form at once)."""
    checked = Checked()
    with webapp.refusals_shown():
        try:
            checked.preview = webapp.call(service, *args, **kwargs)
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


# --- a pool's payment settings: wire instructions, reminders -----------------------------------------


@dataclass(frozen=True)
class Setting:
    """One text field of a settings form: the service's name for it (its label is the one messages
    use, core.errors.FIELD_LABELS) and its value as saved now."""

    field: str
    value: str
    help: str | None = None
    placeholder: str | None = None


def settings_form(
    name: str,
    pool_id: int,
    version: int,
    fields: Sequence[Setting],
    save: Callable[[dict[str, str], int], str],
    *,
    button: str,
) -> None:
    """A form over some of one pool's settings, bound to the pool's id and its version as shown:
    saving calls save(values, version) (one service) before the page is drawn, so every refused
    field shows its message under it, all at once, and a pool changed since is refused as stale.
    Its widgets are keyed by the version: after a save (or another person's) the form shows what is
    saved now, never an edit made on what was there before."""
    scope = f"{name}-{pool_id}-{version}"
    outcome_key = f"_{name}_outcome"

    def submit(shown_version: int) -> None:
        values = {f.field: st.session_state[f"{scope}-{f.field}"] for f in fields}
        outcome: dict[str, Any] = {}
        try:
            outcome["success"] = save(values, shown_version)
        except FieldErrors as exc:
            outcome["fields"] = {error.field: error.message for error in exc.errors}
        except ValidationError as exc:
            outcome["fields"] = {exc.field: exc.message}
        except DomainError as exc:
            outcome["error"] = exc.message
        st.session_state[outcome_key] = (pool_id, outcome)

    stored = st.session_state.pop(outcome_key, None)
    outcome: dict[str, Any] = stored[1] if stored and stored[0] == pool_id else {}
    refused: dict[str, str] = outcome.get("fields", {})
    placed = {f.field for f in fields}
    elsewhere = [outcome.get("error"), *(text for field, text in refused.items() if field not in placed)]
    if any(elsewhere):
        st.error("\n".join(f"- {md(text)}" for text in elsewhere if text))
    elif refused:
        st.error(f"Nothing was saved: {format.count(len(refused), 'field')} to correct, each shown below it.")
    if outcome.get("success"):
        st.success(outcome["success"])
    with st.form(scope):
        columns = st.columns(2)
        for index, setting in enumerate(fields):
            where = columns[index % 2]
            where.text_input(
                field_label(setting.field),
                value=setting.value,
                help=setting.help,
                placeholder=setting.placeholder,
                key=f"{scope}-{setting.field}",
            )
            if setting.field in refused:
                where.error(md(refused[setting.field]), icon=":material/error:")
        st.form_submit_button(button, type="primary", on_click=submit, args=(version,))


def wire_instructions_form(pool_id: int) -> None:
    """Where the pool's investors wire their capital: shown on every call notice and on their Capital
    calls page; the reference pattern names each investor's (and call's) payments, which is how a bank
    statement line carrying only the reference is matched."""
    wire = webapp.call(notices.wire_instructions, pool_id)
    st.subheader("Wire instructions", anchor=False)
    st.caption(
        "Shown to investors on every capital call notice and on their Capital calls page. An IBAN's check "
        "digits and a SWIFT/BIC's form are checked; a 9-digit US routing number is checked by its checksum."
    )

    def save(values: dict[str, str], version: int) -> str:
        saved = webapp.call(notices.set_wire_instructions, pool_id, values, version=version)
        example = saved.for_investor(1234, 2).reference
        return (
            f"Wire instructions of {md(saved.pool_name)} saved. Investors see them on their next notice and "
            f"on their Capital calls page; investor 1234 quotes {md(example)} on capital call 2."
        )

    settings_form(
        "wire",
        pool_id,
        wire.version,
        [
            Setting("bank_name", wire.bank_name, placeholder="e.g. First Harbor Bank"),
            Setting("account_name", wire.account_name, placeholder="e.g. Harbor Fund I LP"),
            Setting(
                "account_number",
                grouped_iban(wire.account_number),
                help="An IBAN (spaces allowed), or another bank's account number",
                placeholder="e.g. DE89 3704 0044 0532 0130 00",
            ),
            Setting(
                "bank_code",
                wire.bank_code,
                help="8 or 11 characters (SWIFT/BIC), or a US ABA routing number of 9 digits",
                placeholder="e.g. COBADEFFXXX",
            ),
            Setting(
                "reference_pattern",
                wire.reference_pattern,
                help="{investor} is required (each investor's reference is their own); {pool} and {call} "
                "are optional. Letters, digits, / . - and spaces.",
            ),
        ],
        save,
        button="Save wire instructions",
    )


def reminders_form(pool_id: int) -> None:
    """When investors are reminded of an unpaid call item: days before its due date, then every so
    many days while it is overdue."""
    now = webapp.call(notices.reminders, pool_id)
    st.subheader("Payment reminders", anchor=False)
    st.caption(
        "Sent to each investor with something outstanding on a capital call, by email when mail is on "
        "and in their Documents inbox. Leave a field empty for no such reminders."
    )

    def save(values: dict[str, str], version: int) -> str:
        saved = webapp.call(
            notices.set_reminders,
            pool_id,
            days_before=values["days_before"],
            overdue_every_days=values["overdue_every_days"],
            version=version,
        )
        before = (
            "no reminder before the due date"
            if not saved.days_before
            else f"reminders {' and '.join(str(d) for d in saved.days_before)} day(s) before the due date"
        )
        after = (
            "none once overdue"
            if saved.overdue_every_days is None
            else f"then every {format.count(saved.overdue_every_days, 'day')} while overdue"
        )
        return f"Reminders saved: {before}, {after}."

    settings_form(
        "reminders",
        pool_id,
        now.version,
        [
            Setting(
                "days_before",
                ", ".join(str(d) for d in now.days_before),
                help="Whole days, separated by commas (at most 5), e.g. 7, 1",
                placeholder="e.g. 7, 1",
            ),
            Setting(
                "overdue_every_days",
                "" if now.overdue_every_days is None else str(now.overdue_every_days),
                help="The day after the due date, then every so many days while something is outstanding",
                placeholder="e.g. 7",
            ),
        ],
        save,
        button="Save reminders",
    )


# --- notices: who was notified of a call or a distribution, and reissues ------------------------------


NOTICES_LISTED = 100  # a call to thousands of investors is searched, not listed whole


def notified(*, call_id: int | None = None, distribution_id: int | None = None, what: str) -> None:
    """Per investor, every notice a capital call (its notice, reminders) or a distribution gave rise
    to: emailed when, read when, or why it failed; a notice can be reissued with a note (asked first).
    The counts cover every notice; the table and the reissue choice list up to NOTICES_LISTED of
    them by name, and beyond that a search by the investor's name or email finds the others."""
    scope = f"{call_id}-{distribution_id}"
    counts = webapp.call(notices.notified_counts, call_id=call_id, distribution_id=distribution_id)
    st.markdown(f"**Who was notified of {md(what)}**")
    if not counts.total:
        st.caption(
            "No notice yet: notices are written once it is posted (one made before notices existed has none)."
        )
        return
    st.caption(
        f"{format.count(counts.total, 'notice')}: "
        + ", ".join(f"{count:,} {status.lower()}" for status, count in sorted(counts.by_status.items()))
        + f"; {counts.read:,} opened by the investor."
    )
    search = ""
    if counts.total > NOTICES_LISTED:
        search = st.text_input(
            "Find an investor",
            key=f"notified-search-{scope}",
            placeholder="Part of a name or an email",
            help=f"The list shows {NOTICES_LISTED} notices at a time, by investor name",
        )
    # One more than is listed: whether there are more to say so.
    shown = webapp.call(
        notices.notified,
        call_id=call_id,
        distribution_id=distribution_id,
        search=search,
        limit=NOTICES_LISTED + 1,
    )
    if len(shown) > NOTICES_LISTED:
        shown = shown[:NOTICES_LISTED]
        st.caption(
            f"The first {NOTICES_LISTED} by investor name"
            + (f" of those matching “{md(search.strip())}”" if search.strip() else "")
            + ": find an investor by name or email for the others."
        )
    elif search.strip():
        st.caption(f"{format.count(len(shown), 'notice')} matching “{md(search.strip())}”.")
    st.dataframe(
        [
            {
                "Investor": n.investor_name,
                "Notice": n.kind_label,
                "Status": n.status_label,
                "Emailed (UTC)": n.sent_at,
                "Read (UTC)": n.read_at,
                "Problem": n.last_error or "",
                "Note": n.note,
            }
            for n in shown
        ],
        hide_index=True,
        column_config={
            "Investor": st.column_config.TextColumn("Investor", width=160),
            "Notice": st.column_config.TextColumn("Notice", width=170),
            "Status": st.column_config.TextColumn("Status", width=150),
            "Emailed (UTC)": st.column_config.DatetimeColumn("Emailed (UTC)", format=WHEN, width=130),
            "Read (UTC)": st.column_config.DatetimeColumn("Read (UTC)", format=WHEN, width=130),
            "Problem": st.column_config.TextColumn("Problem", help="Why the last try to email it failed"),
            "Note": st.column_config.TextColumn("Note", help="Why it was reissued"),
        },
        placeholder=format.NA,  # not emailed (mail off, or not yet), not read yet
        key=f"notified-{scope}",
    )
    reissuable = [n for n in shown if n.reissuable]
    if reissuable:
        with st.expander("Reissue a notice"):
            reissue_form(reissuable, scope=scope)


def reissue_form(shown: Sequence[notices.Notified], *, scope: str) -> None:
    """Reissue one notice with a note: rendered again from the ledger as the next version of the same
    document, and sent. Asked first; the form starts empty again afterwards."""
    form = f"{webapp.form_key('reissue')}-{scope}"
    chosen = webapp.choose(
        "Notice",
        shown,
        lambda n: f"{n.investor_name}: {n.kind_label}" + (f" (reissued: {n.note[:40]})" if n.note else ""),
        key=f"{form}-notice",
        placeholder="Choose the notice to reissue",
        gone="The notice you had chosen is no longer listed; nothing was reissued. Choose again.",
    )
    note = st.text_input(
        "Note",
        max_chars=500,
        key=f"{form}-note",
        placeholder="e.g. Corrected wire instructions",
        help="Why it is reissued: printed on the new version and shown to the investor",
    )
    if chosen is None or not note.strip():
        st.button("Reissue", key=f"{form}-ask", disabled=True, help="Choose a notice and say why first")
        return
    who, kind = md(chosen.investor_name), md(chosen.kind_label.lower())
    if webapp.confirmed(
        form,
        "Reissue",
        f"Reissue the {kind} to {who} with the note “{md(note.strip())}”? It is rendered again from the "
        "ledger as it stands now, as the next version of the same document, and sent to them (by email "
        "when mail is on). The earlier version stays in the vault; a reissue cannot be withdrawn.",
        yes="Yes, reissue it",
        about=(chosen.notice_id, note),
    ):
        with webapp.refusals_shown():
            webapp.call(notices.reissue, chosen.notice_id, note)
            webapp.reset_form("reissue")
            flash(f"The {kind} to {who} is reissued with your note; it is being prepared and sent.")
            st.rerun()


def payment_settings(pool_id: int) -> None:
    """How the pool's investors pay: its wire instructions and its reminders (in every status: a
    closed pool's calls need them most)."""
    wire_instructions_form(pool_id)
    reminders_form(pool_id)


# --- who manages a pool, and the call approval threshold ---------------------------------------------


def _co_manager_change(
    pool_id: int,
    label: str,
    choices: list[Any],
    verb: str,
    question: str,
    yes: str,
    service: Callable[..., Any],
    done: str,
) -> None:
    """Choose a fund manager, be asked first, then add or remove them (`service`) and say so."""
    chosen = webapp.choose(
        label, choices, lambda c: f"{c.view.name} ({c.view.username})", key=f"co-manager-{verb}-{pool_id}"
    )
    if chosen is not None and webapp.confirmed(
        f"{verb}-co-manager-{pool_id}",
        "Add as co-manager" if verb == "add" else "Remove",
        question.format(name=md(chosen.view.name)),
        yes=yes,
        about=chosen.id,
    ):
        with webapp.refusals_shown():
            webapp.call(service, pool_id, chosen.id)
            flash(done.format(name=md(chosen.view.name)))
            st.rerun()


def managers_form(pool_id: int, currency: str) -> None:
    """The pool's managers (the lead manager and co-managers); the lead manager or an admin adds or
    removes co-managers (asked first) and sets above what a capital call needs a second approval."""
    now = webapp.call(pools.pool_managers, pool_id)
    st.subheader("Managers", anchor=False)
    st.caption(
        "Every manager of the pool works it. A distribution, and a capital call above the amount below, is "
        "drafted by one manager and approved by another (or an admin) before it is posted."
    )
    table(
        {
            "Name": [m.name for m in now.managers],
            "Username": [m.username for m in now.managers],
            "Role": ["Lead manager" if m.lead else "Co-manager" for m in now.managers],
        },
        currency,
        widths={"Name": 200, "Username": 160},
    )
    if not now.may_change:
        threshold = now.call_approval_threshold
        st.caption(
            "Capital calls need a second manager's approval "
            + ("never." if threshold is None else f"above {format.money(threshold, currency)}.")
            + " Only the lead manager or an admin changes who manages the pool and this amount."
        )
        return
    candidates = webapp.call(pools.manager_candidates, pool_id)
    left, right = st.columns(2)
    with left:
        _co_manager_change(
            pool_id,
            "Add a co-manager",
            [_Choice(m.user_id, m) for m in candidates],
            "add",
            "Make {name} a co-manager of this pool? They can then work it as you do: preview and draft its "
            "money movements, and approve those another manager drafted.",
            "Yes, add them",
            pools.add_manager,
            "{name} is now a co-manager of the pool.",
        )
    with right:
        _co_manager_change(
            pool_id,
            "Remove a co-manager",
            [_Choice(m.user_id, m) for m in now.managers if not m.lead],
            "remove",
            "Remove {name} from this pool's managers? They no longer see or work it; what they drafted and "
            "still waits can be approved or rejected by the others.",
            "Yes, remove them",
            pools.remove_manager,
            "{name} no longer manages the pool.",
        )

    def save(values: dict[str, str], version: int) -> str:
        webapp.call(
            pools.set_call_approval_threshold, pool_id, values["call_approval_threshold"], version=version
        )
        saved = webapp.call(pools.pool_managers, pool_id).call_approval_threshold
        return "Capital calls now need a second manager's approval " + (
            "never." if saved is None else f"above {format.money(saved, currency)}."
        )

    settings_form(
        "call-approval",
        pool_id,
        now.version,
        [
            Setting(
                "call_approval_threshold",
                ""
                if now.call_approval_threshold is None
                else str(quantize(now.call_approval_threshold, currency)),
                help="A capital call whose total is above this amount is approved by a second manager before "
                "it is issued. Leave it empty: no call needs approval.",
                placeholder="e.g. 1000000",
            )
        ],
        save,
        button="Save the approval threshold",
    )


@dataclass(frozen=True)
class _Choice:
    id: int
    view: pools.ManagerView
