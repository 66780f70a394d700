"""Streamlit helpers shared by the fund manager's pages: the pool picker and number formats.

Plumbing only: every figure and every permission check comes from core.services.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa
import streamlit as st

from app import format, webapp
from core.money import MINOR_UNITS, quantize
from core.services import manager, pools

T = TypeVar("T")
POOL_KEY = "manager_pool_id"  # the pool the manager last worked on, shared by their pages


def money(amount: Decimal | None, currency: str) -> str:
    """An amount at its currency's minor unit, with thousands separators."""
    if amount is None:
        return "-"
    return f"{quantize(amount, currency):,} {currency}"


# (from this amount on, divide by, suffix): 12,345 -> 12.35K; below ten thousand the exact amount.
_SCALES = (
    (Decimal("1e9"), Decimal("1e9"), "B"),
    (Decimal("1e6"), Decimal("1e6"), "M"),
    (Decimal("1e4"), Decimal("1e3"), "K"),
)


def compact(amount: Decimal | None, currency: str) -> str:
    """A short form for a metric tile (1.60M); exact below ten thousand."""
    if amount is None:
        return "-"
    for threshold, divisor, suffix in _SCALES:
        if abs(amount) >= threshold:
            return f"{amount / divisor:,.2f}{suffix}"
    return f"{quantize(amount, currency):,}"


def metric(where: Any, label: str, amount: Decimal | None, currency: str) -> None:
    """A metric tile for an amount: the currency in the label, short on the tile, exact on hover."""
    where.metric(f"{label} ({currency})", compact(amount, currency), help=money(amount, currency))


def percent(fraction: Decimal | None, places: int = 1) -> str:
    return "-" if fraction is None else f"{fraction * 100:.{places}f}%"


def multiple(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def choose_pool(
    statuses: tuple[str, ...] | None = None, *, empty: str = "You have no pools yet."
) -> pools.PoolView:
    """A select box of the manager's own pools (in these statuses); the choice is remembered.

    A pool id planted in the session that is not one of theirs goes to the service, which refuses it.
    """
    mine = webapp.call(pools.list_pools)
    wanted = st.session_state.get(POOL_KEY)
    if wanted is not None and wanted not in {p.id for p in mine}:
        st.session_state.pop(POOL_KEY, None)
        with webapp.refusals_shown():
            webapp.call(manager.managed_pool, wanted)
        st.stop()
    shown = [p for p in mine if statuses is None or p.status in statuses]
    if not shown:
        st.info(empty)
        st.stop()
    pool = webapp.choose("Pool", shown, lambda p: f"{p.name} ({p.status})", selected=wanted)
    st.session_state[POOL_KEY] = pool.id
    return pool


def deferred(service: Callable[..., T], *args: object) -> Callable[[], T]:
    """A service call for st.download_button(data=...): run on click, in Streamlit's download thread,
    as the actor who is logged in now (that thread has no session state)."""
    actor = st.session_state["actor"]

    def run() -> T:
        with webapp.unit_of_work() as uow:
            return service(actor, uow, *args)

    return run


def table(columns: dict[str, list[Any]], currency: str, money_columns: tuple[str, ...] = ()) -> None:
    """A sortable table; money columns stay exact decimals at the currency's scale.

    Built as an Arrow table with the decimal type given, which is an order of magnitude faster
    than letting pandas guess it for thousands of rows.
    """
    decimal = pa.decimal128(24, MINOR_UNITS[currency])
    data = pa.table(
        {
            name: pa.array(values, type=decimal) if name in money_columns else pa.array(values)
            for name, values in columns.items()
        }
    )
    st.dataframe(
        data,
        hide_index=True,
        column_config={name: format.money_column(name, currency) for name in money_columns},
    )


def chart(traces: list[dict[str, Any]], *, height: int = 340, **layout: Any) -> None:
    """A plotly chart built from plain dicts in one go (plotly's step-by-step API is several times
    slower); amounts must already be floats (app.charts.plot_float), at this last step only."""
    st.plotly_chart(
        {"data": traces, "layout": {"height": height, "margin": {"t": 10, "b": 10}, **layout}},
        width="stretch",
    )
