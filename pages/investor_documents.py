"""Documents: what was sent to the investor (capital call and distribution notices, statements,
reminders), unread ones marked, and the documents their pools share. Each file is read from the
vault only when its button is clicked, and every download is audited; opening a notice marks it read."""

from collections.abc import Callable
from typing import Any

import streamlit as st

from app import format, webapp
from app import investor_ui as ui
from core.services import documents, notices

actor = webapp.require_actor("investor")
st.title("Documents")


def file_of(service: Callable[..., Any], object_id: int) -> Callable[[], bytes]:
    """The download's bytes, read (and audited) only when the button is clicked."""
    build = ui.deferred(service, object_id)
    return lambda: build().content


inbox = ui.load(notices.inbox)
unread = sum(item.unread for item in inbox)
st.subheader(f"Inbox, {format.count(unread, 'unread notice')}" if unread else "Inbox", anchor=False)
if not inbox:
    st.info(
        "Nothing has been sent to you yet. Capital call notices, distribution notices and quarterly "
        "capital account statements show here as soon as your pools send them, and by email too."
    )
else:
    st.dataframe(
        [
            {
                "New": "●" if item.unread else "",
                "Date": item.created_at.date(),
                "Notice": item.title,
                "Pool": item.pool_name,
                "Amount": format.money(item.amount, item.currency) if item.amount is not None else format.NA,
                "Emailed": format.day(item.sent_at.date()) if item.sent_at else "No, in the app only",
                "Note": item.note,
            }
            for item in inbox
        ],
        hide_index=True,
        column_config={
            "New": st.column_config.TextColumn("New", width=45, help="● not opened yet"),
            "Date": format.date_column("Date", width=90),
            "Notice": st.column_config.TextColumn("Notice", width=260),
            "Pool": st.column_config.TextColumn("Pool", width=170),
            "Amount": st.column_config.TextColumn("Amount", width=110, help="Called, or distributed to you"),
            "Emailed": st.column_config.TextColumn("Emailed", width=140),
            "Note": st.column_config.TextColumn("Note", help="Why a notice was reissued"),
        },
        key="documents-inbox",
    )
    chosen = webapp.choose(
        "Notice to open",
        inbox,
        lambda item: (
            f"{'● ' if item.unread else ''}{item.title} · {item.pool_name} · {format.day(item.created_at.date())}"
        ),
        key="documents-notice",
        placeholder="Choose a notice",
    )
    if chosen is not None:
        left, right = st.columns(2)
        if chosen.document_id is not None:
            left.download_button(
                "Download the notice (PDF)",
                data=file_of(notices.open_notice, chosen.id),
                file_name=chosen.filename or f"notice-{chosen.id}.pdf",
                mime="application/pdf",
                on_click="ignore",
                icon=":material/download:",
                key=f"download-notice-{chosen.id}",
            )
        if chosen.unread and right.button("Mark as read", key=f"read-notice-{chosen.id}"):
            with webapp.refusals_shown():
                webapp.call(notices.mark_read, chosen.id)
                st.rerun()

st.subheader("Your pools' documents", anchor=False)
files = ui.load(documents.visible)
if not files:
    st.info(
        "No documents yet: the managers of your pools share agreements, subscription documents and "
        "reports here, and your notices and statements are kept here too."
    )
    st.stop()
st.dataframe(
    [
        {
            "Pool": d.pool_name,
            "Document": d.title,
            "Kind": d.kind_label,
            "For": "All investors" if d.shared else "You",
            "Version": d.version,
            "Added": d.created_at.date(),
            "Size (KB)": round(d.size / 1024, 1),  # float-ok: a file size, not money
            "Note": d.note,
        }
        for d in files
    ],
    hide_index=True,
    column_config={
        "Pool": st.column_config.TextColumn("Pool", width=170),
        "Document": st.column_config.TextColumn("Document", width=280),
        "Kind": st.column_config.TextColumn("Kind", width=170),
        "For": st.column_config.TextColumn("For", width=95),
        "Version": st.column_config.NumberColumn("Version", width=65),
        "Added": format.date_column("Added", width=90),
        "Size (KB)": st.column_config.NumberColumn("Size (KB)", format="%.1f", width=75),
        "Note": st.column_config.TextColumn("Note", help="What a new version changed"),
    },
    key="documents-vault",
)
document = webapp.choose(
    "Document to download",
    files,
    lambda d: f"{d.title} · {d.pool_name} · version {d.version}",
    key="documents-file",
    placeholder="Choose a document",
)
if document is not None:
    st.download_button(
        f"Download {document.filename}",
        data=file_of(documents.download, document.id),
        file_name=document.filename,
        mime=document.content_type,
        on_click="ignore",
        icon=":material/download:",
        key=f"download-document-{document.id}",
    )
