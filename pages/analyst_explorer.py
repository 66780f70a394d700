"""Every pool on the platform, read-only. Charts arrive with the analyst issue."""

import pandas as pd
import streamlit as st

from core import webapp
from core.services import pools

actor = webapp.require_actor("analyst")
st.title("Explorer")
everything = webapp.call(pools.list_pools)
st.caption(f"{len(everything)} pools")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Pool": p.name,
                "Status": p.status,
                "Strategy": p.strategy,
                "Currency": p.currency,
                "Target": p.target_size,
                "Hard cap": p.hard_cap,
                "Opened": p.opened_at,
            }
            for p in everything
        ]
    ),
    hide_index=True,
    column_config={
        "Target": st.column_config.NumberColumn(format="accounting"),
        "Hard cap": st.column_config.NumberColumn(format="accounting"),
    },
)
