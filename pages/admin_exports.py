"""CSV exports: pick a report and a date range; small ones download at once, large ones build in the
background with a progress bar and wait below."""

from datetime import date

import pandas as pd
import streamlit as st

from app import webapp
from core.services import exports

actor = webapp.require_actor("admin")
st.title("Exports")
st.caption(
    "Text cells that a spreadsheet could run as a formula (starting with = + - @ or a tab) are "
    "prefixed with a quote; amounts stay numbers at their currency's precision. Times are UTC."
)

with st.form("export"):
    left, right = st.columns([2, 2])
    report = left.selectbox("Report", list(exports.REPORTS), format_func=lambda r: exports.REPORTS[r].title)
    whole = right.checkbox("From the beginning", value=True)
    period = right.date_input(
        "Date range", value=(date(date.today().year, 1, 1), date.today()), max_value=date.today()
    )
    submitted = st.form_submit_button("Build export", type="primary", icon=":material/table_view:")
st.caption(f"The date range applies to {exports.REPORTS[report].dated_by}.")

if submitted:
    since, until = (period[0], period[1]) if len(period) == 2 else (period[0], period[0])
    with webapp.refusals_shown():
        started = webapp.call(
            exports.start_export,
            report,
            None if whole else since,
            until,
            request_key=webapp.form_key("export"),
        )
        st.session_state.pop("_form_key_export", None)
        if started.data is not None:
            st.session_state["export_ready"] = (started.file_name, started.data, started.rows)
        else:
            st.session_state.pop("export_ready", None)
            webapp.start_following("export", started.operation_id)
            st.info(f"{started.rows:,} rows: building in the background.")

webapp.show_finished("export")
webapp.follow_operation("export", done_message="Export ready: download it from the list below.")
ready = st.session_state.get("export_ready")
if ready is not None:
    name, data, rows = ready
    st.success(f"{name}: {rows:,} rows.")
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
    st.caption(f"Exports of more than {exports.INLINE_LIMIT:,} rows are built here.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "report": e.title,
                    "from": e.since,
                    "to": e.until,
                    "status": e.status,
                    "progress": e.fraction,
                    "rows": e.progress_total,
                    "requested": e.created_at,
                    "problem": e.error,
                }
                for e in recent
            ]
        ),
        hide_index=True,
        column_config={"progress": st.column_config.ProgressColumn("progress")},
    )
    for entry in (e for e in recent if e.available):
        with webapp.refusals_shown():
            found = webapp.call(exports.export_file, entry.operation_id)
            st.download_button(
                f"{found.file_name} ({found.rows:,} rows, {found.size / 1e6:.1f} MB)",
                data=found.read,
                file_name=found.file_name,
                mime="text/csv",
                key=f"download-{entry.operation_id}",
                on_click="ignore",
                icon=":material/download:",
            )
