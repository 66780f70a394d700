"""Every state change made through a service, and every refusal, newest first, with filters."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from app import format, webapp
from core import clock
from core.csvsafe import frame_to_csv
from core.services.audit import AuditEntry, fields_json, fields_text, list_audit
from core.vocabulary import label

actor = webapp.require_actor("admin")
st.title("Audit log")
today = clock.today()
OBJECTS = ["", "user", "pool", "commitment", "capital_call", "call_item", "operation", "journal", "export"]

with st.container(border=True):
    top = st.columns([2, 2, 1, 2])
    action = top[0].text_input("Action contains", placeholder="e.g. commitment.accept")
    who = top[1].text_input("Who", placeholder="part of a username, or system")
    outcome = top[2].selectbox("Outcome", ["all", "ok", "refused"], format_func=lambda o: o.capitalize())
    period = top[3].date_input(
        "Between", value=(today - timedelta(days=30), today), max_value=today, format="YYYY-MM-DD"
    )
    bottom = st.columns([2, 2, 1, 2])
    object_type = bottom[0].selectbox(
        "Object", OBJECTS, format_func=lambda o: label(o).capitalize() if o else "Any"
    )
    object_id = bottom[1].text_input("Object id", help="The number of the user, pool, commitment, ...")
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
if not entries:
    st.info("No change or refusal matches these filters in this period: widen the dates or clear a filter.")
    st.stop()


def row(entry: AuditEntry, *, as_json: bool) -> dict[str, object]:
    """One entry for the table (before and after as readable fields) or its CSV (as JSON)."""
    show = fields_json if as_json else fields_text
    return {
        "When": entry.at,
        "Who": entry.actor or "system",
        "Action": entry.action,
        "Object": entry.what,
        "Outcome": entry.outcome,
        "Reason": entry.reason or "",
        "Before": show(entry.before),
        "After": show(entry.after),
    }


COLUMNS = ["When", "Who", "Action", "Object", "Outcome", "Reason", "Before", "After"]
frame = pd.DataFrame([row(e, as_json=False) for e in entries], columns=COLUMNS)
left, right = st.columns([3, 1])
left.caption(
    f"{format.count(len(entries), 'entry', 'entries')} (at most {int(limit):,} shown; the Exports page has "
    "the whole log as CSV). Times are UTC."
)
right.download_button(
    "These rows as CSV",
    data=lambda: frame_to_csv(pd.DataFrame([row(e, as_json=True) for e in entries], columns=COLUMNS)),
    file_name=f"audit_log_{since}_to_{until}.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
st.dataframe(
    frame,
    hide_index=True,
    # Widths that fit the page from 1024 px up; a long before/after shows whole when its cell is opened.
    column_config={
        "When": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss", width=135),
        "Who": st.column_config.TextColumn("Who", width=75),
        "Action": st.column_config.TextColumn("Action", width=125),
        "Object": st.column_config.TextColumn("Object", width=125),
        "Outcome": st.column_config.TextColumn("Outcome", width=65),
        "Reason": st.column_config.TextColumn("Reason", width=95),
        "Before": st.column_config.TextColumn("Before", width=140),
        "After": st.column_config.TextColumn("After", width=150),
    },
)
