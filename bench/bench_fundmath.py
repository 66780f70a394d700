"""Portfolio maths for N investors (default 100,000): core.fundmath beside pyxirr alone.

Each investor gets 10-40 synthetic ledger flows (Decimal cents, contributions then distributions)
and a NAV. We time core.fundmath.portfolio_metrics (IRR + TVPI/DPI/RVPI + paid-in/distributed,
the same code path as xirr() and multiples()) on one core, then pyxirr.xirr alone on the same
flows: once handed the same Decimal amounts, once handed float amounts converted beforehand
(pure solver time). The three are timed interleaved, chunk by chunk, and the best of --repeat
passes is printed, so load from elsewhere on a shared machine hits all three alike. Prints; asserts
nothing (DESIGN.md: tests never assert on wall-clock time).

    python bench/bench_fundmath.py [--investors N] [--seed S] [--repeat R] [--chunk C]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyxirr  # noqa: E402

from core.fundmath import portfolio_metrics  # noqa: E402

CENT = Decimal("0.01")


def synthetic_book(
    investors: int, seed: int
) -> tuple[dict[int, list[tuple[date, Decimal]]], dict[int, Decimal], date]:
    """Ledger-like flows: capital calls over the first years, distributions later, a NAV today."""
    rng = random.Random(seed)
    on = date(2026, 1, 1)
    flows: dict[int, list[tuple[date, Decimal]]] = {}
    navs: dict[int, Decimal] = {}
    for investor in range(investors):
        count = rng.randint(10, 40)
        start = date(2014, 1, 1) + timedelta(days=rng.randint(0, 1500))
        calls = max(1, count // 3)
        investor_flows = []
        day = start
        for index in range(count):
            day += timedelta(days=rng.randint(20, 120))
            cents = rng.randint(100_00, 5_000_000_00)
            investor_flows.append((day, Decimal(-cents if index < calls else cents // 3) * CENT))
        flows[investor] = investor_flows
        navs[investor] = Decimal(rng.randint(0, 10_000_000_00)) * CENT
    return flows, navs, on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--investors", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best total of each is reported")
    parser.add_argument("--chunk", type=int, default=5_000, help="investors per interleaved timing chunk")
    args = parser.parse_args()

    flows, navs, on = synthetic_book(args.investors, args.seed)
    total_flows = sum(map(len, flows.values()))
    # The reference gets the identical cash-flow series, NAV included as the final flow.
    series = [([d for d, _ in f] + [on], [a for _, a in f] + [navs[k]]) for k, f in flows.items()]
    float_series = [(dates, [float(a) for a in amounts]) for dates, amounts in series]

    # The three are timed chunk by chunk, interleaved, so that a busy neighbour on a shared machine
    # slows all of them alike; each total is the best of --repeat passes.
    keys = list(flows)
    chunks = [keys[i : i + args.chunk] for i in range(0, len(keys), args.chunk)]
    index = {key: position for position, key in enumerate(keys)}
    work = [
        (
            {k: flows[k] for k in chunk},
            [series[index[k]] for k in chunk],
            [float_series[index[k]] for k in chunk],
        )
        for chunk in chunks
    ]
    gc.collect()  # settle the freshly built book first (GC stays on while timing, unlike timeit)
    runs: list[Callable[[tuple], object]] = [
        lambda w: portfolio_metrics(w[0], navs, on),
        lambda w: [pyxirr.xirr(dates, amounts, silent=True) for dates, amounts in w[1]],
        lambda w: [pyxirr.xirr(dates, amounts, silent=True) for dates, amounts in w[2]],
    ]
    best = [float("inf")] * len(runs)
    for _ in range(args.repeat):
        totals = [0.0] * len(runs)
        for piece in work:
            for which, run in enumerate(runs):
                started = time.perf_counter()
                run(piece)
                totals[which] += time.perf_counter() - started
        best = [min(b, t) for b, t in zip(best, totals, strict=True)]
    ours, alone, alone_floats = best

    metrics = portfolio_metrics(flows, navs, on)
    reference = [pyxirr.xirr(dates, amounts, silent=True) for dates, amounts in series]
    solved = sum(m.irr is not None for m in metrics.values())
    worst = max(
        abs(float(m.irr) - r) for m, r in zip(metrics.values(), reference, strict=True) if m.irr is not None
    )
    print(
        f"investors: {args.investors:,}  flows: {total_flows:,}  rates solved: {solved:,}  best of {args.repeat}"
    )
    print(f"core.fundmath.portfolio_metrics (xirr + multiples): {ours:.3f} s")
    print(f"pyxirr.xirr alone, same Decimal flows:              {alone:.3f} s")
    print(f"pyxirr.xirr alone, floats converted beforehand:     {alone_floats:.3f} s")
    print(f"ratio vs pyxirr on the same Decimal flows: {ours / alone:.2f}x (target <= 2x)")
    print(f"ratio vs pyxirr on pre-converted floats:   {ours / alone_floats:.2f}x")
    print(f"largest IRR difference from pyxirr: {worst:.1e}")


if __name__ == "__main__":
    main()
