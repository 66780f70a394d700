"""Every state change made through a service, and every refusal, newest first, with filters."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from app import webapp
from core.csvsafe import frame_to_csv
from core.services.audit import list_audit

actor = webapp.require_actor("admin")
st.title("Audit log")
with st.container(border=True):
    top = st.columns([2, 2, 1, 2])
    action = top[0].text_input("Action contains", placeholder="e.g. commitment.accept")
    who = top[1].text_input("Who", placeholder="part of a username, or system")
    outcome = top[2].selectbox("Outcome", ["all", "ok", "refused"])
    period = top[3].date_input("Between", value=(date.today() - timedelta(days=30), date.today()))
    bottom = st.columns([2, 2, 1, 2])
    object_type = bottom[0].selectbox(
        "Object",
        ["", "user", "pool", "commitment", "operation", "journal", "export"],
        format_func=lambda o: o or "any",
    )
    object_id = bottom[1].text_input("Object id")
    limit = bottom[2].number_input("Show at most", min_value=10, max_value=5000, value=500, step=100)
since, until = (period[0], period[1]) if len(period) == 2 else (period[0], period[0])
entries = None
with webapp.refusals_shown():  # a filter refused (control characters, too long) is named, not a crash
    entries = webapp.call(
        list_audit,
        action=action,
        outcome=None if outcome == "all" else outcome,
        since=since,
        until=until,
        limit=int(limit),
        who=who,
        object_type=object_type,
        object_id=object_id,
    )
if entries is None:
    st.stop()
frame = pd.DataFrame(
    [
        {
            "When": e.at,
            "Who": e.actor or "system",
            "Action": e.action,
            "Object": f"{e.object_type} {e.object_id or ''}".strip(),
            "Outcome": e.outcome,
            "Reason": e.reason,
            "Before": None if e.before is None else str(e.before),
            "After": None if e.after is None else str(e.after),
        }
        for e in entries
    ],
    columns=["When", "Who", "Action", "Object", "Outcome", "Reason", "Before", "After"],
)
left, right = st.columns([3, 1])
left.caption(
    f"{len(entries)} entries (at most {int(limit):,} shown; the Exports page has the full log as CSV)"
)
right.download_button(
    "These rows as CSV",
    data=lambda: frame_to_csv(frame),
    file_name="audit_log_view.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
st.dataframe(
    frame,
    hide_index=True,
    column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
)
