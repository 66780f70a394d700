"""CSV exports: pick a report and a date range; small ones download at once, large ones build in the
background with a progress bar and wait below."""

import pandas as pd
import streamlit as st

from app import format, webapp
from core import clock
from core.services import exports
from core.vocabulary import label

actor = webapp.require_actor("admin")
st.title("Exports")
st.caption(
    "Text cells that a spreadsheet could run as a formula (starting with = + - @ or a tab) are "
    "prefixed with a quote; amounts stay numbers at their currency's precision. Times are UTC."
)
today = clock.today()


def size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 1e6 else f"{count / 1e3:,.1f} kB"


with st.container(border=True):
    left, right = st.columns([2, 2])
    report = left.selectbox("Report", list(exports.REPORTS), format_func=lambda r: exports.REPORTS[r].title)
    whole = right.checkbox("From the beginning", value=True, key="export-whole")
    if whole:
        until = right.date_input("Up to and including", value=today, max_value=today, format="YYYY-MM-DD")
        since = None
    else:
        period = right.date_input(
            "Date range", value=(today.replace(month=1, day=1), today), max_value=today, format="YYYY-MM-DD"
        )
        since, until = (period[0], period[1]) if len(period) == 2 else (period[0], period[0])
    left.caption(
        f"The dates apply to {exports.REPORTS[report].dated_by}. "
        f"The file will be named {exports.ExportRequest(report, since, until).file_name}."
    )
    submitted = st.button("Build export", type="primary", icon=":material/table_view:")

if submitted:
    with webapp.refusals_shown():
        started = webapp.call(
            exports.start_export, report, since, until, request_key=webapp.form_key("export")
        )
        webapp.reset_form("export")
        if started.data is not None:
            st.session_state["export_ready"] = (started.file_name, started.data, started.rows)
        else:
            st.session_state.pop("export_ready", None)
            webapp.start_following("export", started.operation_id)
            st.info(
                f"{format.count(started.rows, 'row')}: building in the background; it will be listed below."
            )

webapp.show_finished("export")
webapp.follow_operation("export", done_message="Export ready: download it from the list below.")
ready = st.session_state.get("export_ready")
if ready is not None:
    name, data, rows = ready
    st.success(f"{name}: {format.count(rows, 'row')}.")
    st.download_button(
        "Download CSV",
        data=data,
        file_name=name,
        mime="text/csv",
        type="primary",
        icon=":material/download:",
        on_click="ignore",
        key="download-ready",
    )

st.subheader("Background exports", anchor=False)
recent = webapp.call(exports.recent_exports)
if not recent:
    st.caption(
        f"Exports of more than {exports.INLINE_LIMIT:,} rows are built in the background and listed here."
    )
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Report": e.title,
                    "From": e.since,
                    "To": e.until,
                    "Status": label(e.status),
                    "Progress": e.fraction,
                    "Rows": e.progress_total,
                    "Requested": e.created_at,
                    "Problem": e.error or "",
                }
                for e in recent
            ],
            columns=["Report", "From", "To", "Status", "Progress", "Rows", "Requested", "Problem"],
        ),
        hide_index=True,
        column_config={
            "From": format.date_column("From", help="Empty: from the beginning"),
            "To": format.date_column("To"),
            "Progress": st.column_config.ProgressColumn("Progress"),
            "Requested": st.column_config.DatetimeColumn("Requested", format="YYYY-MM-DD HH:mm"),
        },
        placeholder="from the beginning",
    )
    for entry in (e for e in recent if e.available):
        with webapp.refusals_shown():
            found = webapp.call(exports.export_file, entry.operation_id)
            st.download_button(
                f"{found.file_name} ({format.count(found.rows, 'row')}, {size(found.size)})",
                data=found.read,
                file_name=found.file_name,
                mime="text/csv",
                key=f"download-{entry.operation_id}",
                on_click="ignore",
                icon=":material/download:",
            )
