"""Platform analytics for analysts: every pool at once, aggregated in PostgreSQL, cached in Redis.

The heavy work is a few GROUP BY queries over the ledger (see the booking table in core.ledger);
Python only solves one IRR per pool and takes medians of per-pool figures. Results are cached
under the platform version: a fingerprint of every pool's (id, version, row version). Pool versions
are bumped in the same transaction as every posting and commitment change, and a row's xmin moves
with any other update (terms, status), so the key changes exactly when a figure can, and reading
it costs one scan of the pools table (about a millisecond for 1,000 pools).

Read-only: analysts and admins may call these; nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from core import clock
from core.errors import ValidationError
from core.fundmath import MULTIPLE_QUANTUM, xirr
from core.money import ROUNDING
from core.permissions import PLATFORM_READERS, Actor, require_role
from core.services.audit import audits_refused_reads
from core.services.pools import visible_pool
from core.uow import UnitOfWork

MAX_COMPARE = 5
ZERO = Decimal(0)
_C = "CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END"
_D = "CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END"


def platform_version(uow: UnitOfWork) -> str:
    """A cheap fingerprint that moves whenever any pool, its ledger or its commitments change."""
    return uow.session.execute(
        text(
            "SELECT count(*) || '-' || md5(coalesce(string_agg(id || ':' || version || ':' || xmin, ',' "
            "ORDER BY id), '')) FROM pools"
        )
    ).scalar_one()


CACHE_FORMAT = 2  # bumped whenever what is cached changes shape: old entries are then never read


def _key(uow: UnitOfWork, name: str, *parts: Any) -> str:
    digest = hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()  # noqa: S324
    return f"platform:{CACHE_FORMAT}:{platform_version(uow)}:{name}:{digest}"


# --- filters and their choices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the explorer looks at; an empty tuple means "all". Figures are as of `until`."""

    strategies: tuple[str, ...] = ()
    vintages: tuple[int, ...] = ()
    currencies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    managers: tuple[int, ...] = ()
    since: date | None = None
    until: date | None = None

    def checked(self) -> Filters:
        until = self.until or clock.today()
        if self.since is not None and self.since > until:
            raise ValidationError("since", "must not be after the end of the range")
        return Filters(
            tuple(sorted(self.strategies)),
            tuple(sorted(int(v) for v in self.vintages)),
            tuple(sorted(self.currencies)),
            tuple(sorted(self.statuses)),
            tuple(sorted(int(m) for m in self.managers)),
            self.since,
            until,
        )


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class Options:
    strategies: list[str]
    currencies: list[str]
    statuses: list[str]
    vintages: list[int]
    managers: list[Choice]
    pools: list[Choice]
    first_date: date | None


@audits_refused_reads
def explorer_options(actor: Actor, uow: UnitOfWork) -> Options:
    """The values each explorer filter can take, and every pool for the comparison picker."""
    require_role(actor, *PLATFORM_READERS)

    def compute() -> dict[str, Any]:
        rows = uow.session.execute(
            text(
                """SELECT p.id, p.name, p.strategy, p.currency, p.status, p.manager_id, m.name AS manager,
                          extract(year FROM coalesce(fc.first_call, p.opened_at, p.created_at))::int AS vintage
                     FROM pools p JOIN users m ON m.id = p.manager_id
                     LEFT JOIN (SELECT pool_id, min(effective_date) AS first_call FROM journals
                                 WHERE kind = 'capital_call' GROUP BY pool_id) fc ON fc.pool_id = p.id
                    ORDER BY p.name, p.id"""
            )
        ).all()
        first = uow.session.execute(text("SELECT min(effective_date) FROM journals")).scalar_one()
        return {
            "strategies": sorted({r.strategy for r in rows}),
            "currencies": sorted({r.currency for r in rows}),
            "statuses": sorted({r.status for r in rows}),
            "vintages": sorted({r.vintage for r in rows}),
            "managers": sorted(
                ({"id": r.manager_id, "label": r.manager} for r in {r.manager_id: r for r in rows}.values()),
                key=lambda c: c["label"],
            ),
            "pools": [{"id": r.id, "label": f"{r.name} (#{r.id}, {r.currency})"} for r in rows],
            "first_date": first.isoformat() if first else None,
        }

    data = uow.cache.cached(_key(uow, "options"), compute, lambda d: d)
    return Options(
        data["strategies"],
        data["currencies"],
        data["statuses"],
        data["vintages"],
        [Choice(**c) for c in data["managers"]],
        [Choice(**c) for c in data["pools"]],
        date.fromisoformat(data["first_date"]) if data["first_date"] else None,
    )


# --- the explorer ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolFacts:
    """One pool as the explorer charts it, as of the filter's end date. Amounts in the pool's currency."""

    pool_id: int
    name: str
    strategy: str
    currency: str
    status: str
    manager: str
    vintage: int
    target_size: Decimal
    hard_cap: Decimal
    committed: Decimal
    investors: int
    called: Decimal
    paid_in: Decimal
    distributed: Decimal
    nav: Decimal
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    irr: Decimal | None
    raised_pct: Decimal  # committed / target, in percent
    days_to_target: int | None  # from opening to the acceptance that reached the target; None if not yet
    top1_share: Decimal | None  # the largest investor's share of commitments, in percent
    top5_share: Decimal | None
    top10_share: Decimal | None


@dataclass(frozen=True)
class FlowMonth:
    """Capital movements across the filtered pools in one month and currency."""

    month: date
    currency: str
    called: Decimal
    contributed: Decimal
    distributed: Decimal


@dataclass(frozen=True)
class VintageSummary:
    vintage: int
    pools: int
    median_tvpi: Decimal | None
    q1_tvpi: Decimal | None
    q3_tvpi: Decimal | None
    median_irr: Decimal | None
    median_days_to_target: float | None
    reached_target: int


@dataclass(frozen=True)
class Explorer:
    filters: Filters
    version: str
    pools: list[PoolFacts] = field(default_factory=list)
    flows: list[FlowMonth] = field(default_factory=list)
    vintages: list[VintageSummary] = field(default_factory=list)

    @property
    def median_tvpi(self) -> Decimal | None:
        return _median(p.tvpi for p in self.pools)

    @property
    def median_irr(self) -> Decimal | None:
        return _median(p.irr for p in self.pools)

    @property
    def reached_target(self) -> int:
        return sum(1 for p in self.pools if p.committed >= p.target_size)

    def flow_currencies(self) -> list[str]:
        """The currencies money moved in, the busiest first (the flows chart shows one at a time)."""
        volume: dict[str, Decimal] = {}
        for month in self.flows:
            volume[month.currency] = volume.get(month.currency, ZERO) + month.called + month.distributed
        return sorted(volume, key=lambda c: (-volume[c], c))

    def most_concentrated(self, n: int = 20) -> list[PoolFacts]:
        """The top-n pools by their five largest investors' share (charts stay readable at 1,000 pools)."""
        held = [p for p in self.pools if p.top5_share is not None]
        return sorted(held, key=lambda p: (-p.top5_share, p.pool_id))[:n]  # type: ignore[operator]


# The pools in the filter, with what the small tables say: vintage (year of the first capital call,
# else of opening), and from accepted commitments the days to reach the target and the share of the
# largest investors.
_POOLS_SQL = """
WITH p AS (
    SELECT p.id, p.name, p.strategy, p.currency, p.status, m.name AS manager, p.target_size, p.hard_cap,
           coalesce(p.opened_at, p.created_at) AS opened_at
      FROM pools p JOIN users m ON m.id = p.manager_id
     WHERE p.created_at < CAST(:until AS date) + 1
       AND (cardinality(CAST(:strategies AS text[])) = 0 OR p.strategy = ANY(CAST(:strategies AS text[])))
       AND (cardinality(CAST(:currencies AS text[])) = 0 OR p.currency = ANY(CAST(:currencies AS text[])))
       AND (cardinality(CAST(:statuses AS text[])) = 0 OR p.status = ANY(CAST(:statuses AS text[])))
       AND (cardinality(CAST(:managers AS bigint[])) = 0 OR p.manager_id = ANY(CAST(:managers AS bigint[])))
), v AS (
    SELECT p.*, extract(year FROM coalesce(fc.first_call, p.opened_at))::int AS vintage
      FROM p LEFT JOIN (SELECT j.pool_id, min(j.effective_date) AS first_call FROM journals j
                         WHERE j.kind = 'capital_call' AND j.effective_date <= :until GROUP BY j.pool_id) fc
             ON fc.pool_id = p.id
     WHERE cardinality(CAST(:vintages AS int[])) = 0
        OR extract(year FROM coalesce(fc.first_call, p.opened_at))::int = ANY(CAST(:vintages AS int[]))
), accepted AS (
    SELECT c.pool_id, c.amount_accepted AS amount, c.decided_at, v.target_size,
           sum(c.amount_accepted) OVER (PARTITION BY c.pool_id ORDER BY c.decided_at, c.id) AS running,
           row_number() OVER (PARTITION BY c.pool_id ORDER BY c.amount_accepted DESC, c.investor_id) AS rank
      FROM commitments c JOIN v ON v.id = c.pool_id
     WHERE c.status = 'accepted' AND c.decided_at < CAST(:until AS date) + 1
), raised AS (
    SELECT pool_id, count(*) AS investors, sum(amount) AS total,
           sum(amount) FILTER (WHERE rank <= 1) AS top1,
           sum(amount) FILTER (WHERE rank <= 5) AS top5,
           sum(amount) FILTER (WHERE rank <= 10) AS top10,
           min(decided_at) FILTER (WHERE running >= target_size) AS reached_at
      FROM accepted GROUP BY pool_id
)
SELECT v.id, v.name, v.strategy, v.currency, v.status, v.manager, v.vintage, v.target_size, v.hard_cap,
       coalesce(r.investors, 0) AS investors, r.total, r.top1, r.top5, r.top10,
       CASE WHEN r.reached_at IS NOT NULL THEN greatest(r.reached_at::date - v.opened_at::date, 0) END
           AS days_to_target
  FROM v LEFT JOIN raised r ON r.pool_id = v.id
 ORDER BY v.id
"""

# One scan of the investors' ledger entries, first netted per journal and account (a cheap, narrow
# aggregate), then grouped three ways at once: per pool (the books), per pool and day (the dated
# flows an IRR needs) and per month and currency (the platform over time).
_LEDGER_SQL = """
WITH per_journal AS (
    SELECT e.journal_id, e.account, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END) AS credit
      FROM entries e
     WHERE e.account IN ('commitment', 'capital', 'receivable')
       AND (:all_pools OR e.pool_id = ANY(CAST(:ids AS bigint[])))
     GROUP BY e.journal_id, e.account
)
SELECT GROUPING(j.pool_id, j.effective_date) AS level, j.pool_id, j.effective_date,
       date_trunc('month', j.effective_date)::date AS month, p.currency,
       coalesce(sum(pj.credit) FILTER (WHERE pj.account = 'commitment'), 0) AS committed,
       coalesce(-sum(pj.credit) FILTER (WHERE j.kind = 'capital_call' AND pj.account = 'receivable'), 0)
           AS called,
       coalesce(sum(pj.credit) FILTER (WHERE j.kind = 'payment' AND pj.account = 'capital'), 0) AS contributed,
       coalesce(-sum(pj.credit) FILTER (WHERE j.kind = 'distribution' AND pj.account = 'capital'), 0)
           AS distributed,
       coalesce(sum(pj.credit) FILTER (WHERE pj.account = 'capital'), 0) AS nav
  FROM per_journal pj JOIN journals j ON j.id = pj.journal_id JOIN pools p ON p.id = j.pool_id
 WHERE j.effective_date <= :until
 GROUP BY GROUPING SETS ((j.pool_id), (j.pool_id, j.effective_date),
                         (date_trunc('month', j.effective_date), p.currency))
"""
BY_POOL, BY_POOL_AND_DAY, BY_MONTH = 1, 0, 3  # GROUPING(pool, day) of each grouping set
# Big aggregations: sort and hash in memory rather than on disk, and skip JIT compilation, which
# costs more than it saves on these one-pass scans (this transaction only).
_ANALYTICS_SETTINGS = ("SET LOCAL work_mem = '128MB'", "SET LOCAL jit = off")


def _tune(uow: UnitOfWork) -> None:
    for setting in _ANALYTICS_SETTINGS:
        uow.session.execute(text(setting))


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return (numerator / denominator).quantize(MULTIPLE_QUANTUM, ROUNDING) if denominator else None


def _multiples(paid_in: Decimal, distributed: Decimal, nav: Decimal) -> tuple[Decimal | None, ...]:
    """(TVPI, DPI, RVPI) as core.fundmath.multiples states them (TVPI = DPI + RVPI exactly); a NAV
    below zero (fees charged before any payment) is allowed here."""
    dpi, rvpi = _ratio(distributed, paid_in), _ratio(nav, paid_in)
    return (None if dpi is None or rvpi is None else dpi + rvpi), dpi, rvpi


def _share(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or whole is None or whole <= 0:
        return None
    return (part * 100 / whole).quantize(Decimal("0.01"), ROUNDING)


def _median(values: Iterable[Any]) -> Any:
    present = sorted(v for v in values if v is not None)
    return statistics.median(present) if present else None


def _quartiles(values: Iterable[Decimal | None]) -> tuple[Decimal | None, Decimal | None]:
    present = sorted(v for v in values if v is not None)
    if len(present) < 2:
        return (present[0], present[0]) if present else (None, None)
    q1, _, q3 = statistics.quantiles(present, n=4, method="inclusive")
    return q1, q3


def _vintages(pools: list[PoolFacts]) -> list[VintageSummary]:
    by_year: dict[int, list[PoolFacts]] = {}
    for pool in pools:
        by_year.setdefault(pool.vintage, []).append(pool)
    summaries = []
    for year, group in sorted(by_year.items()):
        q1, q3 = _quartiles(p.tvpi for p in group)
        days = _median(p.days_to_target for p in group)
        summaries.append(
            VintageSummary(
                year,
                len(group),
                _median(p.tvpi for p in group),
                q1,
                q3,
                _median(p.irr for p in group),
                None if days is None else float(days),  # float-ok: days, not money
                sum(1 for p in group if p.days_to_target is not None),
            )
        )
    return summaries


def _compute_explorer(uow: UnitOfWork, filters: Filters) -> Explorer:
    everything = not (
        filters.strategies or filters.vintages or filters.currencies or filters.statuses or filters.managers
    )
    _tune(uow)
    rows = uow.session.execute(
        text(_POOLS_SQL),
        {
            "until": filters.until,
            "strategies": list(filters.strategies),
            "currencies": list(filters.currencies),
            "statuses": list(filters.statuses),
            "managers": list(filters.managers),
            "vintages": list(filters.vintages),
        },
    ).all()
    books: dict[int, Any] = {}
    flows: dict[int, list[tuple[date, Decimal]]] = {}
    months: list[FlowMonth] = []
    if rows:
        ids = [r.id for r in rows]
        for g in uow.session.execute(
            text(_LEDGER_SQL), {"until": filters.until, "ids": ids, "all_pools": everything}
        ).all():
            if g.level == BY_POOL:
                books[g.pool_id] = g
            elif g.level == BY_POOL_AND_DAY:
                dated = flows.setdefault(g.pool_id, [])
                if g.contributed:
                    dated.append((g.effective_date, -g.contributed))
                if g.distributed:
                    dated.append((g.effective_date, g.distributed))
            elif filters.since is None or g.month >= filters.since.replace(day=1):
                months.append(FlowMonth(g.month, g.currency, g.called, g.contributed, g.distributed))
    pools = []
    for r in rows:
        b = books.get(r.id)
        committed, called, paid_in, distributed, nav = (
            (b.committed, b.called, b.contributed, b.distributed, b.nav) if b is not None else (ZERO,) * 5
        )
        irr = None
        if paid_in > 0:
            dated = sorted(flows.get(r.id, []))
            irr = xirr([*dated, (filters.until, nav)] if nav else dated)
        pools.append(
            PoolFacts(
                r.id,
                r.name,
                r.strategy,
                r.currency,
                r.status,
                r.manager,
                r.vintage,
                r.target_size,
                r.hard_cap,
                committed,
                r.investors,
                called,
                paid_in,
                distributed,
                nav,
                *_multiples(paid_in, distributed, nav),
                irr,
                (committed * 100 / r.target_size).quantize(Decimal("0.01"), ROUNDING),
                r.days_to_target,
                _share(r.top1, r.total),
                _share(r.top5, r.total),
                _share(r.top10, r.total),
            )
        )
    months.sort(key=lambda m: (m.month, m.currency))
    return Explorer(filters, platform_version(uow), pools, months, _vintages(pools))


def _dates(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: (date.fromisoformat(v) if k in names and isinstance(v, str) else v) for k, v in data.items()}


# The cache holds rows, not objects: Decimals and dates as text in fixed columns, so reading 1,000
# pools back is one json.loads and a Decimal() per amount, with no per-value decoding hook.


def _rows(items: list[Any]) -> list[list[Any]]:
    return [
        [str(v) if isinstance(v, (Decimal, date)) else v for v in (getattr(i, f.name) for f in fields(i))]
        for i in items
    ]


def _parser(annotation: str) -> Callable[[Any], Any] | None:
    kind = (
        Decimal if "Decimal" in annotation else date.fromisoformat if annotation.startswith("date") else None
    )
    return None if kind is None else (lambda v: None if v is None else kind(v))


def _objects(cls: type, rows: list[list[Any]]) -> list[Any]:
    parsers = [_parser(str(f.type)) for f in fields(cls)]
    return [cls(*(p(v) if p else v for p, v in zip(parsers, row, strict=True))) for row in rows]


def _dump_explorer(data: Explorer) -> dict[str, Any]:
    return {
        "filters": _rows([data.filters])[0],
        "version": data.version,
        "pools": _rows(data.pools),
        "flows": _rows(data.flows),
        "vintages": _rows(data.vintages),
    }


def _load_explorer(data: dict[str, Any]) -> Explorer:
    raw = data["filters"]
    since, until = (date.fromisoformat(v) if v else None for v in raw[5:7])
    return Explorer(
        Filters(*(tuple(v) for v in raw[:5]), since, until),
        data["version"],
        _objects(PoolFacts, data["pools"]),
        _objects(FlowMonth, data["flows"]),
        _objects(VintageSummary, data["vintages"]),
    )


@audits_refused_reads
def explorer(actor: Actor, uow: UnitOfWork, filters: Filters | None = None) -> Explorer:
    """Every chart's data for the filtered pools, from the cache when the platform has not moved."""
    require_role(actor, *PLATFORM_READERS)
    chosen = (filters or Filters()).checked()
    stored = uow.cache.cached(
        _key(uow, "explorer", asdict(chosen)),
        lambda: _dump_explorer(_compute_explorer(uow, chosen)),
        lambda d: d,
    )
    return _load_explorer(stored)


# --- pool comparison ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePoint:
    """A pool's since-inception figures at one month end (the J-curve)."""

    month: date
    paid_in: Decimal
    distributed: Decimal
    nav: Decimal
    net_cash_flow: Decimal  # distributed - paid in: the J
    net_pct_of_commitment: Decimal | None
    tvpi: Decimal | None
    irr: Decimal | None


@dataclass(frozen=True)
class PoolCurve:
    pool_id: int
    name: str
    currency: str
    strategy: str
    committed: Decimal
    paid_in: Decimal
    distributed: Decimal
    nav: Decimal
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    irr: Decimal | None
    points: list[CurvePoint]


_CURVE_SQL = f"""
SELECT e.pool_id, j.effective_date,
       coalesce(sum(CASE WHEN e.account = 'commitment' THEN {_C} END), 0) AS committed,
       coalesce(sum(CASE WHEN j.kind = 'payment' AND e.account = 'capital' THEN {_C} END), 0) AS paid_in,
       coalesce(sum(CASE WHEN j.kind = 'distribution' AND e.account = 'capital' THEN {_D} END), 0)
           AS distributed,
       coalesce(sum(CASE WHEN e.account = 'capital' THEN {_C} END), 0) AS nav_change
  FROM entries e JOIN journals j ON j.id = e.journal_id
 WHERE e.pool_id = ANY(CAST(:ids AS bigint[])) AND e.investor_id IS NOT NULL
   AND e.account IN ('commitment', 'capital') AND j.effective_date <= :until
 GROUP BY e.pool_id, j.effective_date
 ORDER BY e.pool_id, j.effective_date
"""


def _month_ends(first: date, last: date) -> list[date]:
    ends, current = [], date(first.year, first.month, 1)
    while current <= last:
        following = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        ends.append(min(following - timedelta(days=1), last))
        current = following
    return ends


def _curve(pool: Any, days: list[Any], until: date) -> PoolCurve:
    committed = paid_in = distributed = nav = ZERO
    flows: list[tuple[date, Decimal]] = []
    points: list[CurvePoint] = []
    pending = list(days)
    first = next((d.effective_date for d in days if d.paid_in or d.distributed), None)
    for month_end in _month_ends(first, until) if first else []:
        while pending and pending[0].effective_date <= month_end:
            day = pending.pop(0)
            committed += day.committed
            paid_in += day.paid_in
            distributed += day.distributed
            nav += day.nav_change
            if day.paid_in:
                flows.append((day.effective_date, -day.paid_in))
            if day.distributed:
                flows.append((day.effective_date, day.distributed))
        irr = xirr([*flows, (month_end, nav)] if nav else flows) if paid_in > 0 else None
        points.append(
            CurvePoint(
                month_end,
                paid_in,
                distributed,
                nav,
                distributed - paid_in,
                _share(distributed - paid_in, committed) if committed > 0 else None,
                _multiples(paid_in, distributed, nav)[0],
                irr,
            )
        )
    for day in pending:  # days before any money moved (commitments only)
        committed += day.committed
        nav += day.nav_change
    last = points[-1] if points else None
    return PoolCurve(
        pool.id,
        pool.name,
        pool.currency,
        pool.strategy,
        committed,
        paid_in,
        distributed,
        nav,
        *_multiples(paid_in, distributed, nav),
        last.irr if last else None,
        points,
    )


def _load_curves(data: list[dict[str, Any]]) -> list[PoolCurve]:
    """From the cache (dates as text) or fresh (dates as dates): the same curves."""
    curves = []
    for c in data:
        points = [CurvePoint(**_dates(p, "month")) for p in c["points"]]
        curves.append(PoolCurve(**{**c, "points": points}))
    return curves


@audits_refused_reads
def compare_pools(
    actor: Actor, uow: UnitOfWork, pool_ids: list[int], until: date | None = None
) -> list[PoolCurve]:
    """J-curves (month by month since the first money moved) and multiples of up to five pools."""
    require_role(actor, *PLATFORM_READERS)
    ids = list(dict.fromkeys(int(i) for i in pool_ids))
    if len(ids) > MAX_COMPARE:
        raise ValidationError("pools", f"compare at most {MAX_COMPARE} pools at a time")
    end = until or clock.today()
    chosen = [visible_pool(uow, actor, pool_id) for pool_id in ids]
    if not chosen:
        return []

    def compute() -> list[PoolCurve]:
        _tune(uow)
        by_pool: dict[int, list[Any]] = {}
        for row in uow.session.execute(text(_CURVE_SQL), {"ids": ids, "until": end}):
            by_pool.setdefault(row.pool_id, []).append(row)
        return [_curve(pool, by_pool.get(pool.id, []), end) for pool in chosen]

    key = _key(uow, "compare", ids, end)  # the platform version covers these pools' ledgers and names
    return _load_curves(uow.cache.cached(key, lambda: [asdict(c) for c in compute()], lambda data: data))


__all__ = [
    "MAX_COMPARE",
    "Choice",
    "CurvePoint",
    "Explorer",
    "Filters",
    "FlowMonth",
    "Options",
    "PoolCurve",
    "PoolFacts",
    "VintageSummary",
    "compare_pools",
    "explorer",
    "explorer_options",
    "platform_version",
]
