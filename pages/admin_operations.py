"""Operations health: database and Redis, queues, workers, mail and the notices' delivery (failed ones
sent again), running and failed work (with retry), cache.

Where the servers are arrives without URLs from the health service (embedded, or configured and the
host); error texts arrive masked (core.logs.mask_secrets). Texts that could quote user input are
shown as text (app.textsafe.md, tables).
"""

import pandas as pd
import streamlit as st

from app import format, notices_ui, webapp
from app.textsafe import md
from core.operations import OperationStatus
from core.services import health, notices
from core.vocabulary import label

actor = webapp.require_actor("admin")
st.title("Operations health")
auto = st.toggle("Refresh every 5 seconds", value=False)

WHEN = "YYYY-MM-DD HH:mm:ss"


def kind(op: OperationStatus) -> str:
    return label(op.kind).capitalize()


@st.fragment(run_every=5.0 if auto else None)
def board() -> None:
    state = webapp.call(health.health)
    st.caption(f"Checked at {state.checked_at:%Y-%m-%d %H:%M:%S} UTC · {md(state.servers)}")
    cols = st.columns(5)
    for col, service in zip(cols[:2], (state.database, state.redis), strict=True):
        col.metric(service.name, "Up" if service.ok else "Down")
        latency = "" if service.latency_ms is None else f"answered in {service.latency_ms:.1f} ms · "
        col.caption(md(latency + service.detail))
    # Short values and labels: five tiles side by side stay whole from 1024 px up.
    cols[2].metric("Queued jobs", f"{sum(q.queued for q in state.queues):,}" if state.queues else format.NA)
    cols[3].metric("Workers", f"{len(state.workers):,}")
    rate = state.cache_hit_rate
    cols[4].metric(
        "Cache hit rate",
        format.NA if rate is None else f"{rate:.0%}",
        help="Of the analytics (pool and portfolio figures) asked of the cache",
    )
    cols[4].caption(
        "this app process"
        + ("" if state.redis_hit_rate is None else f"; Redis overall {state.redis_hit_rate:.0%}")
    )
    if state.stalled:
        st.warning(
            f"{format.count(state.stalled, 'running operation')} made no progress for longer than the "
            "timeout; the sweeper sends them round again."
        )

    st.subheader("Queues", anchor=False)
    if not state.queues:
        st.info(
            "Redis is not answering, so the queues cannot be read; operations wait in PostgreSQL meanwhile."
        )
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Queue": q.name,
                        "Waiting": q.queued,
                        "Running": q.started,
                        "Failed": q.failed,
                        "Scheduled": q.scheduled,
                        "Deferred": q.deferred,
                    }
                    for q in state.queues
                ]
            ),
            hide_index=True,
        )
    st.subheader("Workers", anchor=False)
    if not state.workers:
        st.warning(
            "No worker is running: operations wait in the queue until one starts (`python -m core worker`)."
        )
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Worker": w.name,
                        "Host": (w.hostname or "unknown host") + (f", process {w.pid}" if w.pid else ""),
                        "State": label(w.state),
                        "Queues": w.queues,
                        "Since heartbeat": w.seconds_since_heartbeat,
                        "Working on": "an operation" if w.current_job else "nothing",
                        "Jobs done": w.successful_jobs,
                        "Jobs failed": w.failed_jobs,
                        "Started": w.started_at,
                    }
                    for w in state.workers
                ]
            ),
            hide_index=True,
            column_config={
                # Widths that fit the page at 1400 px; a worker's name shows whole on hover.
                "Worker": st.column_config.TextColumn("Worker", width=130),
                "Host": st.column_config.TextColumn("Host", width=130),
                "Queues": st.column_config.TextColumn("Queues", width=150),
                "Since heartbeat": st.column_config.NumberColumn(
                    "Last heartbeat", format="%.0f s ago", help="Seconds since the worker last reported in"
                ),
                "Started": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
            },
            placeholder=format.NA,
        )
    st.subheader("Mail and notices", anchor=False)
    notices_ui.delivery(webapp.call(notices.delivery))
    st.subheader("Operations", anchor=False)
    st.caption(
        " · ".join(
            f"{label(status)}: {count:,}" for status, count in sorted(state.operations_by_status.items())
        )
        or "No operations yet."
    )
    if state.in_flight:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Operation": kind(op),
                        "Pool": state.pool_names.get(op.pool_id, "") if op.pool_id else "",
                        "Status": label(op.status),
                        "Attempts": op.attempts,
                        "Progress": op.fraction,
                        "Done": op.progress_done,
                        "Of": op.progress_total,
                        "Updated": op.updated_at,
                    }
                    for op in state.in_flight
                ]
            ),
            hide_index=True,
            column_config={
                "Progress": st.column_config.ProgressColumn("Progress"),
                "Updated": st.column_config.DatetimeColumn("Updated", format=WHEN),
            },
        )
    st.subheader("Failed operations", anchor=False)
    if not state.failed:
        st.success("No failed operations.")
        return

    def describe(op: object) -> str:
        pool = state.pool_names.get(getattr(op, "pool_id", None) or 0, "")
        failed_at = op.updated_at
        return f"{kind(op)}{f' for {pool}' if pool else ''}, failed {failed_at:%Y-%m-%d %H:%M} UTC"

    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Operation": kind(op),
                    "Pool": state.pool_names.get(op.pool_id, "") if op.pool_id else "",
                    "Attempts": op.attempts,
                    "Reason": op.error or "",
                    "Failed at": op.updated_at,
                }
                for op in state.failed
            ]
        ),
        hide_index=True,
        column_config={"Failed at": st.column_config.DatetimeColumn("Failed at", format=WHEN)},
    )
    chosen = webapp.choose(
        "Failed operation",
        state.failed,
        lambda op: f"{describe(op)}: {(op.error or '')[:80]}",
        key="failed-operation",
        gone="That operation is no longer failed (it was retried meanwhile); nothing was done.",
    )
    if chosen is not None and st.button("Retry it", icon=":material/replay:"):
        with webapp.refusals_shown():
            webapp.call(health.retry_operation, chosen.id)
            st.success(f"{md(describe(chosen))}: pending again; a worker will pick it up.")


board()
