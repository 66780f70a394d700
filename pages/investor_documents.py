"""Documents: what was sent to the investor (capital call and distribution notices, statements,
reminders), unread ones marked, and the documents their pools share. Each file is read from the
vault only when its button is clicked, and every download is audited; opening a notice marks it read."""

import streamlit as st

from app import format, notices_ui, webapp
from app import investor_ui as ui
from core.services import documents, notices

actor = webapp.require_actor("investor")
st.title("Documents")


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
                data=notices_ui.file_of(notices.open_notice, chosen.id),
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
notices_ui.documents_table(files, key="documents-vault")
notices_ui.download_picker(files, key="documents-file")
