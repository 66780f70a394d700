"""Operations health: database and Redis, queues, workers, running and failed work (with retry), cache.

Connection strings and error texts arrive masked from the health service (core.logs.mask_secrets); texts
that could quote user input are shown as text (app.textsafe.md, tables).
"""

import pandas as pd
import streamlit as st

from app import webapp
from app.textsafe import md
from core.services import health

actor = webapp.require_actor("admin")
st.title("Operations health")
auto = st.toggle("Refresh every 5 seconds", value=False)


@st.fragment(run_every=5.0 if auto else None)
def board() -> None:
    state = webapp.call(health.health)
    st.caption(f"Checked at {state.checked_at:%Y-%m-%d %H:%M:%S} UTC · {md(state.servers)}")
    cols = st.columns(5)
    for col, service in zip(cols[:2], (state.database, state.redis), strict=True):
        col.metric(
            service.name,
            "up" if service.ok else "DOWN",
            None if service.latency_ms is None else f"{service.latency_ms:.1f} ms",
            delta_color="off",
        )
        col.caption(md(service.detail))
    cols[2].metric("Queued jobs", sum(q.queued for q in state.queues) if state.queues else "—")
    cols[3].metric("Workers", len(state.workers))
    rate = state.cache_hit_rate
    cols[4].metric("Analytics cache hit rate", "—" if rate is None else f"{rate:.0%}")
    cols[4].caption(
        "this app process"
        + ("" if state.redis_hit_rate is None else f"; Redis overall {state.redis_hit_rate:.0%}")
    )
    if state.stalled:
        st.warning(
            f"{state.stalled} running operation(s) have made no progress for longer than the timeout; "
            "the sweeper re-enqueues them."
        )

    st.subheader("Queues", anchor=False)
    st.dataframe(pd.DataFrame([q.__dict__ for q in state.queues]), hide_index=True)
    st.subheader("Workers", anchor=False)
    if not state.workers:
        st.warning(
            "No worker is running: operations wait in the queue until one starts (`python -m core worker`)."
        )
    else:
        st.dataframe(
            pd.DataFrame([w.__dict__ for w in state.workers]),
            hide_index=True,
            column_config={
                "seconds_since_heartbeat": st.column_config.NumberColumn(
                    "seconds since heartbeat", format="%.0f"
                ),
            },
        )
    st.subheader("Operations", anchor=False)
    st.caption(
        " · ".join(f"{status}: {count:,}" for status, count in sorted(state.operations_by_status.items()))
        or "none yet"
    )
    if state.in_flight:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": str(op.id),
                        "kind": op.kind,
                        "pool": op.pool_id,
                        "status": op.status,
                        "attempts": op.attempts,
                        "progress": op.fraction,
                        "done": op.progress_done,
                        "of": op.progress_total,
                        "updated": op.updated_at,
                    }
                    for op in state.in_flight
                ]
            ),
            hide_index=True,
            column_config={"progress": st.column_config.ProgressColumn("progress")},
        )
    st.subheader("Failed operations", anchor=False)
    if not state.failed:
        st.success("No failed operations.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": str(op.id),
                    "kind": op.kind,
                    "pool": op.pool_id,
                    "attempts": op.attempts,
                    "reason": op.error,
                    "failed at": op.updated_at,
                }
                for op in state.failed
            ]
        ),
        hide_index=True,
    )
    chosen = webapp.choose(
        "Failed operation", state.failed, lambda op: f"{op.kind} {op.id} — {(op.error or '')[:80]}"
    )
    if st.button("Retry it", icon=":material/replay:"):
        with webapp.refusals_shown():
            webapp.call(health.retry_operation, chosen.id)
            st.success(f"Operation {chosen.id} is pending again; a worker will pick it up.")


board()
