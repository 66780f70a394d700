"""Streamlit helpers for notices and the document vault, shared by the investor's, the manager's and
the admin's pages: the vault's tables and downloads, the wire instructions an investor pays by, and
the state of mail delivery.

Plumbing only: what each person may see and download is decided by core.services.documents and
core.services.notices (every download is audited there). User text (pool and document names, bank
names, notes, references) reaches markdown only through md(); tables show it as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from app import format, webapp
from app.investor_ui import deferred
from app.textsafe import md
from core.domain import grouped_iban
from core.services import documents, notices
from core.views import investor

WHEN = "YYYY-MM-DD HH:mm"  # a moment in a table, in UTC (said in the column's name)


def file_of(service: Callable[..., Any], object_id: int) -> Callable[[], bytes]:
    """A download's bytes, read (and audited) only when its button is clicked."""
    build = deferred(service, object_id)
    return lambda: build().content


def shared_with_you(document: documents.DocumentView) -> str:
    """Whom a document is for, as the investor reads it."""
    return "All investors" if document.shared else "You"


def documents_table(
    files: Sequence[documents.DocumentView],
    *,
    key: str,
    whom: Callable[[documents.DocumentView], str] = shared_with_you,
    pool: bool = True,
) -> None:
    """The vault's documents (latest versions) as a table: title, kind, for whom, version, when added,
    size and the note of what a new version changed."""
    rows = [
        {
            **({"Pool": d.pool_name} if pool else {}),
            "Document": d.title,
            "Kind": d.kind_label,
            "For": whom(d),
            "Version": d.version,
            "Added": d.created_at.date(),
            "Size (KB)": round(d.size / 1024, 1),  # float-ok: a file size, not money
            "Note": d.note,
        }
        for d in files
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            # Widths that leave the note in view at 1400 px (a longer title shows whole on hover).
            "Pool": st.column_config.TextColumn("Pool", width=140),
            "Document": st.column_config.TextColumn("Document", width=230),
            "Kind": st.column_config.TextColumn("Kind", width=140),
            "For": st.column_config.TextColumn("For", width=100),
            "Version": st.column_config.NumberColumn("Version", width=65),
            "Added": format.date_column("Added", width=90),
            "Size (KB)": st.column_config.NumberColumn("Size (KB)", format="%.1f", width=75),
            "Note": st.column_config.TextColumn("Note", help="What a new version changed"),
        },
        key=key,
    )


def download_picker(
    files: Sequence[documents.DocumentView],
    *,
    key: str,
    label: str = "Document to download",
    describe: Callable[[documents.DocumentView], str] | None = None,
) -> documents.DocumentView | None:
    """Choose one document and download it (read from the vault, and audited, on the click);
    returns the chosen one."""
    chosen = webapp.choose(
        label,
        files,
        describe or (lambda d: f"{d.title} · {d.pool_name} · version {d.version}"),
        key=key,
        placeholder="Choose a document",
    )
    if chosen is not None:
        st.download_button(
            f"Download {chosen.filename}",
            data=file_of(documents.download, chosen.id),
            file_name=chosen.filename,
            mime=chosen.content_type,
            on_click="ignore",
            icon=":material/download:",
            key=f"{key}-download-{chosen.id}",
        )
    return chosen


# --- the investor: how to pay a call item ----------------------------------------------------------


def payment_instructions(items: Sequence[investor.CallItemView]) -> None:
    """For each open call item: the amount and day, where to wire it and the reference to quote, so
    that the payment is matched to the investor and the call when the bank statement comes in."""
    for item in items:
        with webapp.refusals_shown():
            shown = webapp.call(notices.payment_instructions, item.id)
            wire, cur = shown.wire, shown.currency
            with st.container(border=True):
                st.markdown(
                    f"**{md(item.title)}** of {md(item.pool_name)}: "
                    f"{format.money(shown.outstanding, cur)} by {format.day(shown.due_date)}"
                )
                if wire.complete:
                    cells = [
                        ("Bank", wire.bank_name),
                        ("Account name", wire.account_name),
                        ("IBAN or account number", grouped_iban(wire.account_number)),
                        ("SWIFT/BIC or routing number", wire.bank_code),
                    ]
                    for column, (name, value) in zip(st.columns(4), cells, strict=True):
                        column.markdown(f"**{name}**  \n{md(value)}")
                else:
                    st.info(
                        f"{md(item.pool_name)}'s manager has not entered the pool's wire instructions yet: "
                        "ask them where to wire before you pay.",
                        icon=":material/info:",
                    )
                st.markdown(
                    f"Quote the payment reference **{md(wire.reference)}** exactly on the wire: it tells "
                    "the pool which investor and capital call the payment is for."
                )


# --- the admin: mail and the notices' delivery ------------------------------------------------------


def delivery(state: notices.Delivery) -> None:
    """Whether mail is on, how many notices wait to be rendered or emailed (and since when), and the
    failed ones with their reasons, each of which can be sent round again."""
    (st.success if state.mail.on else st.info)(md(state.mail.detail), icon=":material/mail:")
    with st.container(horizontal=True, gap="medium"):
        st.metric("Being prepared", f"{state.pending:,}", help="Written, not rendered yet", width="content")
        st.metric(
            "Waiting to be emailed",
            f"{state.ready:,}",
            help="Rendered; waiting for a worker or for their next try",
            width="content",
        )
        st.metric("Failed", f"{state.failed:,}", help="Every try failed: see below", width="content")
        st.metric(
            "Oldest waiting",
            format.NA if state.oldest_waiting is None else f"{state.oldest_waiting:%Y-%m-%d %H:%M} UTC",
            help="The oldest notice still being prepared or waiting to be emailed",
            width="content",
        )
    if not state.failures:
        st.caption("No failed notices.")
        return
    st.dataframe(
        [
            {
                "Notice": f.kind_label,
                "Pool": f.pool_name,
                "Investor": f.investor_name,
                "To": f.recipient or "",
                "Tries": f.attempts,
                "Reason": f.last_error or "",
                "Failed at (UTC)": f.updated_at,
            }
            for f in state.failures
        ],
        hide_index=True,
        column_config={"Failed at (UTC)": st.column_config.DatetimeColumn("Failed at (UTC)", format=WHEN)},
        key="failed-notices",
    )
    chosen = webapp.choose(
        "Failed notice",
        state.failures,
        lambda f: f"{f.kind_label} to {f.investor_name} ({f.pool_name}): {(f.last_error or '')[:60]}",
        key="failed-notice",
        placeholder="Choose a failed notice to send again",
        gone="That notice is no longer failed (it was sent again meanwhile); nothing was done.",
    )
    if chosen is not None and st.button(
        "Send it again", icon=":material/forward_to_inbox:", key=f"retry-notice-{chosen.id}"
    ):
        with webapp.refusals_shown():
            webapp.call(notices.retry, chosen.id)
            st.success(
                f"{md(chosen.kind_label)} to {md(chosen.investor_name)} goes round again, with its tries "
                "counted afresh; the list shows it until a worker has sent it."
            )
