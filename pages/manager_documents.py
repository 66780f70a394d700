"""Documents: the pool's vault as its manager sees it (the documents shared with its investors, every
notice and statement sent, each with its versions), a pool document uploaded, and a quarter's capital
account statements issued. What enters the vault stays there, so both are previewed and asked first;
a wrong document is corrected by uploading its next version with a note.
"""

from datetime import timedelta

import streamlit as st

from app import format, webapp
from app import notices_ui as ui
from app.manager_ui import choose_pool, flash, previewed, show_flash
from app.textsafe import md
from core import clock
from core.services import documents, notices
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Documents")
pool = choose_pool()
show_flash()

files = webapp.call(documents.visible, pool_id=pool.id)
investors = {b.investor_id: b.investor_name for b in webapp.call(manager.investor_balances, pool.id)}


def whom(document: documents.DocumentView) -> str:
    if document.shared:
        return "All investors"
    return investors.get(document.investor_id or 0, "One investor")


VIEWS = ["Documents", "Upload a document", "Quarterly statements"]
view = st.radio("View", VIEWS, horizontal=True, key="documents-view", label_visibility="collapsed")


def vault() -> None:
    uploaded = [d for d in files if d.kind in documents.UPLOAD_KINDS]
    sent = [d for d in files if d.kind not in documents.UPLOAD_KINDS]
    st.subheader("Shared with the pool's investors", anchor=False)
    if uploaded:
        ui.documents_table(uploaded, key="manager-uploaded", whom=whom, pool=False)
    else:
        st.caption(
            "Nothing uploaded yet: agreements, subscription documents and reports go here (Upload a document)."
        )
    st.subheader("Notices and statements sent", anchor=False)
    if sent:
        ui.documents_table(sent, key="manager-sent", whom=whom, pool=False)
    else:
        st.caption("Nothing sent yet: a capital call, a distribution or a quarter's statements send them.")
    if not files:
        return
    st.subheader("Versions and downloads", anchor=False)
    chosen = ui.download_picker(
        files,
        key=f"manager-document-{pool.id}",
        label="Document",
        describe=lambda d: f"{d.title} · {whom(d)} · version {d.version}",
    )
    if chosen is not None and chosen.version > 1:
        earlier = webapp.call(documents.versions, chosen.id)
        ui.documents_table(earlier, key=f"manager-versions-{chosen.id}", whom=whom, pool=False)
        ui.download_picker(
            earlier,
            key=f"manager-version-{chosen.id}",
            label="Version to download",
            describe=lambda d: (
                f"Version {d.version} of {format.day(d.created_at.date())}: {d.note or 'the first'}"
            ),
        )
    st.caption("Every download is recorded in the audit log.")


def upload_form() -> None:
    form = webapp.form_key("upload")
    left, right = st.columns(2)
    kind = left.selectbox(
        "Kind",
        documents.UPLOAD_KINDS,
        format_func=lambda k: documents.KIND_LABELS[k],
        key=f"{form}-kind",
    )
    title = right.text_input("Title", max_chars=200, key=f"{form}-title", placeholder="e.g. Q3 2026 report")
    investor_id = left.selectbox(
        "For",
        [None, *investors],
        format_func=lambda i: "All investors of the pool" if i is None else investors[i],
        key=f"{form}-for",
    )
    same = [d for d in files if d.kind == kind and d.investor_id == investor_id]
    replaces = right.selectbox(
        "Replaces",
        [None, *(d.id for d in same)],
        format_func=lambda i: (
            "Nothing: a new document"
            if i is None
            else next(f"{d.title} (version {d.version})" for d in same if d.id == i)
        ),
        key=f"{form}-replaces",
        help="A new version of a document already shared; the earlier versions stay readable",
    )
    note = st.text_input(
        "Note",
        max_chars=500,
        key=f"{form}-note",
        help="Required for a new version: what it changes (shown to investors)",
    )
    limit = documents.MAX_UPLOAD_BYTES // (1024 * 1024)
    upload = st.file_uploader(
        f"File (PDF, PNG or JPEG, at most {limit} MB)",
        type=["pdf", "png", "jpg", "jpeg"],
        key=f"{form}-file",
        max_upload_size=limit,
    )
    preview = None
    if upload is not None and title.strip():
        request = {
            "kind": kind,
            "title": title,
            "filename": upload.name,
            "data": upload.getvalue(),
            "investor_id": investor_id,
            "note": note,
            "replaces": replaces,
        }
        preview = previewed(documents.preview_upload, pool.id, **request).preview
    if preview is None:
        st.button("Upload", key="upload-ask", disabled=True, help="Choose a file and give it a title first")
        return
    target = "all its investors" if preview.investor_id is None else f"{investors[preview.investor_id]} only"
    version = f" as version {preview.version} of what it replaces" if preview.replaces is not None else ""
    what = f"“{md(preview.title)}” ({md(preview.kind_label.lower())}, {md(preview.filename)}, {preview.size / 1024:,.1f} KB)"
    if webapp.confirmed(
        "upload",
        "Upload",
        f"Put {what} in {md(pool.name)}'s vault{version}, for {md(target)}? Investors see it at once on "
        "their Documents and pool pages. A document in the vault cannot be changed or removed: a mistake "
        "is corrected by uploading its next version with a note.",
        yes="Yes, upload it",
        about=(pool.id, kind, title, investor_id, replaces, note, preview.sha256),
        type="primary",
    ):
        with webapp.refusals_shown():
            stored = webapp.call(documents.upload, pool.id, **request)
            webapp.reset_form("upload")
            flash(f"{what} is in the vault as version {stored.version}, for {md(target)}.")
            st.rerun()


def statements_form() -> None:
    st.caption(
        "One capital account statement per investor with a commitment by the quarter's end: the quarter, "
        "the year to date and since inception, from the ledger as of that day. A quarter is issued once: "
        "the platform's scheduled run issues the last quarter's a few days after it ends, and issuing it "
        "here again issues only what is missing."
    )
    end = clock.today()
    ended = []
    for _ in range(8):
        end = notices.quarter_of(end)[0] - timedelta(days=1)
        ended.append(end)
    quarter = st.selectbox(
        "Quarter",
        ended,
        format_func=lambda day: f"{notices.quarter_label(day)} (to {format.day(day)})",
        key=f"statements-quarter-{pool.id}",
    )
    label = notices.quarter_label(quarter)
    if webapp.confirmed(
        f"statements-{pool.id}",
        f"Issue the {label} statements",
        f"Issue the {label} capital account statements of {md(pool.name)} to each investor with a "
        f"commitment by {format.day(quarter)}? They are sent (by email when mail is on) and kept in the "
        "vault; they cannot be withdrawn.",
        yes="Yes, issue them",
        about=(pool.id, quarter),
        type="primary",
    ):
        with webapp.refusals_shown():
            written = webapp.call(notices.issue_statements, pool.id, quarter)
            flash(
                f"{format.count(written, 'statement')} of {label} issued: they are being prepared and sent."
                if written
                else f"No statement of {label} was issued: each was issued before, or nobody had a "
                f"commitment to {md(pool.name)} by {format.day(quarter)}."
            )
            st.rerun()


if view == VIEWS[0]:
    vault()
elif view == VIEWS[1]:
    upload_form()
else:
    statements_form()
