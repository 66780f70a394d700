"""Every state change made through a service, and every refusal, newest first."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core import webapp
from core.services.audit import list_audit

actor = webapp.require_actor("admin")
st.title("Audit log")
cols = st.columns([2, 1, 2])
action = cols[0].text_input("Action contains", placeholder="e.g. commitment.accept")
outcome = cols[1].selectbox("Outcome", ["all", "ok", "refused"])
period = cols[2].date_input("Between", value=(date.today() - timedelta(days=30), date.today()))
since, until = (period[0], period[1]) if len(period) == 2 else (period[0], period[0])
entries = webapp.call(
    list_audit, action=action, outcome=None if outcome == "all" else outcome, since=since, until=until
)
st.caption(f"{len(entries)} entries (at most 500 shown)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "When": e.at,
                "Who": e.actor or "system",
                "Action": e.action,
                "Object": f"{e.object_type} {e.object_id or ''}",
                "Outcome": e.outcome,
                "Reason": e.reason,
                "Before": e.before,
                "After": e.after,
            }
            for e in entries
        ]
    ),
    hide_index=True,
    column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
)
