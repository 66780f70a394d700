"""Platform analytics for analysts: every pool at once, aggregated in PostgreSQL, cached in Redis.

Every figure is a sum over the ledger's one read model (core.ledger.read_model.movements), as of
the end of the chosen range, by the rules in docs/figures.md: the same lines, the same date rule
and the same multiples as the investor's and the manager's pages. Python only solves one IRR per
pool and takes medians of per-pool figures.

Two set-based queries make the explorer: the pools in scope with their fundraising (commitments
per investor and per day, the first capital call), and one pass over the pools' capital lines
grouped three ways at once (per pool, per pool and day for the IRRs, per month and currency).

Results are cached under the platform version: a fingerprint of every pool's (id, version, row
version). Pool versions are bumped in the same transaction as every posting and commitment change,
and a row's xmin moves with any other update (terms, status), so the key changes exactly when a
figure can, and reading it costs one scan of the pools table.

Draft pools are left out of the platform's figures unless asked for (Filters.include_drafts or a
status filter naming them): nothing has been raised in a draft, and counting it would dilute every
median. Explorer.scope says which pools a figure counts.

Read-only: analysts and admins may call these; nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple, get_args, get_type_hints

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Integer,
    Select,
    case,
    cast,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.sqltypes import NullType

from core import clock
from core.errors import ValidationError
from core.formatting import count, day
from core.fundmath import multiples, xirr_columns
from core.ledger import CAPITAL_LINES, Line, read_model
from core.ledger.read_model import Position
from core.money import ROUNDING
from core.permissions import PLATFORM_READERS, Actor, require_role
from core.services.audit import audits_refused_reads
from core.services.pools import visible_pool
from core.uow import UnitOfWork
from core.vocabulary import PoolStatus, label
from db.models import Pool, User

MAX_COMPARE = 5
ZERO = Decimal(0)
PERCENT = Decimal("0.01")


def platform_version(uow: UnitOfWork) -> str:
    """A cheap fingerprint that moves whenever any pool, its ledger or its commitments change."""
    return uow.session.execute(
        text(
            "SELECT count(*) || '-' || md5(coalesce(string_agg(id || ':' || version || ':' || xmin, ',' "
            "ORDER BY id), '')) FROM pools"
        )
    ).scalar_one()


CACHE_FORMAT = 5  # bumped whenever what is cached changes shape: old entries are then never read


def _key(version: str, name: str, *parts: Any) -> str:
    digest = hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()  # noqa: S324
    return f"platform:{CACHE_FORMAT}:{version}:{name}:{digest}"


# --- the figures' rules (docs/figures.md) ---------------------------------------------------------------


def pool_multiples(
    paid_in: Decimal, distributions: Decimal, nav: Decimal
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(TVPI, DPI, RVPI) of a capital account (GIPS): only when something has been paid in and NAV
    is not negative; TVPI = DPI + RVPI exactly (core.fundmath.multiples)."""
    if paid_in <= 0 or nav < 0 or distributions < 0:
        return None, None, None
    found = multiples(paid_in, distributions, nav)
    return found.tvpi, found.dpi, found.rvpi


def pool_irr(days: list[date], amounts: list[Decimal], nav: Decimal, as_of: date) -> Decimal | None:
    """Since-inception IRR of flows on `days`: contributions paid in (negative), distributions out,
    NAV as the value held on the as-of day; None when no rate solves it (core.fundmath.xirr)."""
    return xirr_columns([*days, as_of], [*amounts, nav]) if nav else xirr_columns(days, amounts)


def _share(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    """part / whole in percent, to 0.01; None where the whole is nothing."""
    if part is None or whole is None or whole <= 0:
        return None
    return (part * 100 / whole).quantize(PERCENT, ROUNDING)


def _median(values: Iterable[Any]) -> Any:
    present = sorted(v for v in values if v is not None)
    return statistics.median(present) if present else None


def _quartiles(values: Iterable[Decimal | None]) -> tuple[Decimal | None, Decimal | None]:
    present = sorted(v for v in values if v is not None)
    if len(present) < 2:
        return (present[0], present[0]) if present else (None, None)
    q1, _, q3 = statistics.quantiles(present, n=4, method="inclusive")
    return q1, q3


# Big aggregations: sort and hash in memory rather than on disk, and skip JIT compilation, which
# costs more than it saves on these one-pass scans (this transaction only).
_ANALYTICS_SETTINGS = ("SET LOCAL work_mem = '128MB'", "SET LOCAL jit = off")


def _tune(uow: UnitOfWork) -> None:
    for setting in _ANALYTICS_SETTINGS:
        uow.session.execute(text(setting))


# --- filters and their choices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the explorer looks at; an empty tuple means "all" (drafts only with include_drafts or a
    status filter naming them). Figures are as of `until`; `since` limits the flows over time."""

    strategies: tuple[str, ...] = ()
    vintages: tuple[int, ...] = ()
    currencies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    managers: tuple[int, ...] = ()
    since: date | None = None
    until: date | None = None
    include_drafts: bool = False

    def checked(self) -> Filters:
        until = self.until or clock.today()
        if self.since is not None and self.since > until:
            raise ValidationError("since", "must not be after the end of the range", limit=until)
        statuses = tuple(sorted(self.statuses))
        return Filters(
            tuple(sorted(self.strategies)),
            tuple(sorted(int(v) for v in self.vintages)),
            tuple(sorted(self.currencies)),
            statuses,
            tuple(sorted(int(m) for m in self.managers)),
            self.since,
            until,
            self.include_drafts or PoolStatus.DRAFT.value in statuses,
        )

    @property
    def everything(self) -> bool:
        """No filter narrows the pools (beyond leaving drafts out)."""
        return not (self.strategies or self.vintages or self.currencies or self.statuses or self.managers)


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
    first_date: date | None


# --- the explorer ---------------------------------------------------------------------------------------


class PoolFacts(NamedTuple):
    """One pool as the explorer charts it, as of the filter's end date. Amounts in the pool's currency.

    The capital lines are the pool's capital account summed over its investors (the read model's
    lines, ILPA names); unfunded, outstanding and NAV derive from them as read_model.Position does.
    A NamedTuple: the explorer builds (and reads back from its cache) ten thousand of them, and a
    frozen dataclass's construction took a fifth of the explorer's Python time."""

    pool_id: int
    name: str
    strategy: str
    currency: str
    status: str
    manager: str
    vintage: int
    target_size: Decimal
    hard_cap: Decimal
    investors: int
    commitment: Decimal
    called: Decimal
    contributions: Decimal
    distributions: Decimal
    management_fees: Decimal
    fund_expenses: Decimal
    realized_gain: Decimal
    unrealized_gain: Decimal
    carried_interest: Decimal
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    irr: Decimal | None
    raised_pct: Decimal  # committed / target, in percent
    days_to_target: int | None  # from opening to the day commitments reached the target; None if not yet
    top1_share: Decimal | None  # the largest investor's share of commitments, in percent
    top5_share: Decimal | None
    top10_share: Decimal | None

    @property
    def position(self) -> Position:
        return Position(*(getattr(self, line.value) for line in CAPITAL_LINES))

    @property
    def paid_in(self) -> Decimal:
        return self.position.paid_in

    @property
    def unfunded(self) -> Decimal:
        return self.position.unfunded

    @property
    def outstanding(self) -> Decimal:
        return self.position.outstanding

    @property
    def nav(self) -> Decimal:
        return self.position.nav


@dataclass(frozen=True)
class FlowMonth:
    """Capital movements across the counted pools in one month and currency."""

    month: date
    currency: str
    called: Decimal
    contributions: Decimal
    distributions: Decimal


@dataclass(frozen=True)
class VintageSummary:
    vintage: int
    pools: int
    median_tvpi: Decimal | None
    q1_tvpi: Decimal | None
    q3_tvpi: Decimal | None
    median_irr: Decimal | None
    median_days_to_target: Decimal | None
    reached_target: int


@dataclass(frozen=True)
class Explorer:
    filters: Filters
    version: str
    pools: list[PoolFacts] = field(default_factory=list)
    vintages: list[VintageSummary] = field(default_factory=list)
    drafts_left_out: int = 0  # draft pools the filters match that the figures do not count

    # Cached: each sorts ten thousand pools, and a page run asks more than once.
    @cached_property
    def median_tvpi(self) -> Decimal | None:
        return _median(p.tvpi for p in self.pools)

    @cached_property
    def median_irr(self) -> Decimal | None:
        return _median(p.irr for p in self.pools)

    @property
    def reached_target(self) -> int:
        return sum(1 for p in self.pools if p.commitment >= p.target_size)

    @property
    def scope(self) -> str:
        """Which pools the figures count, in words (the page shows it beside the totals)."""
        if self.filters.statuses:
            statuses = [PoolStatus(s) for s in self.filters.statuses]
        else:
            statuses = [s for s in PoolStatus if self.filters.include_drafts or s is not PoolStatus.DRAFT]
        words = f"Counting {count(len(self.pools), 'pool')}: {', '.join(label(s) for s in statuses)}"
        if self.drafts_left_out:
            words += f" ({count(self.drafts_left_out, 'draft')} left out)"
        return f"{words}; figures as of {day(self.filters.until)}."

    def most_concentrated(self, n: int = 20) -> list[PoolFacts]:
        """The top-n pools by their five largest investors' share (charts stay readable at 1,000 pools)."""
        held = [p for p in self.pools if p.top5_share is not None]
        return sorted(held, key=lambda p: (-p.top5_share, p.pool_id))[:n]  # type: ignore[operator]


# The explorer reads the pools' daily sums (read_model.pool_days, kept by the database as entries
# are posted) for every capital line, the IRR flows, the first call and the day the target was
# reached, and the commitment line per investor from the entries (concentration), in one query
# (the months, explorer_flows, in another, when asked for). The planner cannot foresee how many
# movements join their (kind, account) line: left to itself it probes the entries' journal index
# once per journal (118,000 probes at 10,000 pools); scanning both and hashing the join is several
# times faster.
_ONE_PASS = ("SET LOCAL enable_nestloop = off",)
_FLOW_LINES = (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS)
_CAPITAL_NAMES = tuple(line.value for line in CAPITAL_LINES)
_MONTH_LINES = (Line.CALLED, Line.CONTRIBUTIONS, Line.DISTRIBUTIONS)


def _shares(until: date) -> Any:
    """From the commitment line as of `until`: per pool its investors, their total commitment and
    the part of it the largest 1, 5 and 10 hold."""
    m = read_model.movements(as_of=until, lines=(Line.COMMITMENT,))
    per_investor = (
        select(m.c.pool_id, m.c.investor_id, func.sum(m.c.amount).label("amount"))
        .group_by(m.c.pool_id, m.c.investor_id)
        .having(func.sum(m.c.amount) > 0)
        .subquery("per_investor")
    )
    rank = func.row_number().over(
        partition_by=per_investor.c.pool_id,
        order_by=(per_investor.c.amount.desc(), per_investor.c.investor_id),
    )
    ranked = select(per_investor.c.pool_id, per_investor.c.amount, rank.label("rank")).subquery("ranked")
    return (
        select(
            ranked.c.pool_id,
            func.count().label("investors"),
            func.sum(ranked.c.amount).label("total"),
            *(func.sum(ranked.c.amount).filter(ranked.c.rank <= n).label(f"top{n}") for n in (1, 5, 10)),
        )
        .group_by(ranked.c.pool_id)
        .subquery("shares")
    )


def _reached(until: date) -> Any:
    """Per pool, the first day its commitments (the line's running total) reached its target."""
    d = read_model.pool_days(as_of=until, lines=(Line.COMMITMENT,))
    running = (
        select(
            d.c.pool_id,
            d.c.day,
            func.sum(d.c.amount).over(partition_by=d.c.pool_id, order_by=d.c.day).label("committed"),
        )
    ).subquery("running")
    return (
        select(running.c.pool_id, func.min(running.c.day).label("day"))
        .join(Pool, Pool.id == running.c.pool_id)
        .where(running.c.committed >= Pool.target_size)
        .group_by(running.c.pool_id)
        .subquery("reached")
    )


def _pools_query(filters: Filters) -> Select[*tuple[Any, ...]]:
    """The pools in scope as of the end of the range (drafts too: the caller says what it leaves
    out) with their vintage (the year of the first capital call, else of the opening), their
    capital lines, their flows for the IRR (two arrays: days, and contributions paid in as negative
    amounts beside distributions as positive ones), the day they reached their target and the
    shares of their largest investors."""
    until = filters.until
    assert until is not None
    d = read_model.pool_days(as_of=until, lines=CAPITAL_LINES)
    flow = d.c.line.in_([line.value for line in _FLOW_LINES]) & (d.c.amount != 0)
    totals = (
        select(
            d.c.pool_id,
            *read_model.line_sums(d, CAPITAL_LINES),
            func.min(d.c.day).filter((d.c.line == Line.CALLED.value) & (d.c.amount > 0)).label("first_call"),
            func.array_agg(d.c.day).filter(flow).label("flow_days"),
            func.array_agg(case((d.c.line == Line.CONTRIBUTIONS.value, -d.c.amount), else_=d.c.amount))
            .filter(flow)
            .label("flow_amounts"),
        )
        .group_by(d.c.pool_id)
        .subquery("totals")
    )
    shares = _shares(until)
    reached = _reached(until)
    opened = func.coalesce(Pool.opened_at, Pool.created_at)
    vintage = cast(func.extract("year", func.coalesce(totals.c.first_call, opened)), Integer)
    query: Select[*tuple[Any, ...]] = (
        select(
            Pool.id,
            Pool.name,
            Pool.strategy,
            Pool.currency,
            Pool.status,
            User.name.label("manager"),
            vintage.label("vintage"),
            Pool.target_size,
            Pool.hard_cap,
            *(func.coalesce(totals.c[line.value], 0).label(line.value) for line in CAPITAL_LINES),
            type_coerce(totals.c.flow_days, NullType).label("flow_days"),
            type_coerce(totals.c.flow_amounts, NullType).label("flow_amounts"),
            case((reached.c.day.is_not(None), func.greatest(reached.c.day - cast(opened, Date), 0))).label(
                "days_to_target"
            ),
            func.coalesce(shares.c.investors, 0).label("investors"),
            shares.c.total,
            shares.c.top1,
            shares.c.top5,
            shares.c.top10,
        )
        .join(User, User.id == Pool.manager_id)
        .outerjoin(totals, totals.c.pool_id == Pool.id)
        .outerjoin(reached, reached.c.pool_id == Pool.id)
        .outerjoin(shares, shares.c.pool_id == Pool.id)
        .where(func.least(Pool.created_at, opened) < cast(until, Date) + 1)  # existed by then
        .order_by(Pool.id)
    )
    for column, chosen in (
        (Pool.strategy, filters.strategies),
        (Pool.currency, filters.currencies),
        (Pool.status, filters.statuses),
        (Pool.manager_id, filters.managers),
        (vintage, filters.vintages),
    ):
        if chosen:
            query = query.where(column.in_(chosen))
    return query


def _months(uow: UnitOfWork, pool_ids: list[int], until: date) -> list[FlowMonth]:
    """Capital called, paid in and distributed per month and currency over these pools."""
    d = read_model.pool_days(as_of=until, lines=_MONTH_LINES)
    # A day as a timestamp without a zone: date_trunc on a timestamptz would convert every row.
    month = cast(func.date_trunc("month", cast(d.c.day, DateTime)), Date)
    rows = uow.session.execute(
        select(month, Pool.currency, *read_model.line_sums(d, _MONTH_LINES))
        .join(Pool, Pool.id == d.c.pool_id)
        .where(d.c.pool_id == func.any(cast(pool_ids, ARRAY(BigInteger))))
        .group_by(month, Pool.currency)
        .order_by(month, Pool.currency)
    ).all()
    return [FlowMonth(month_, currency, *sums) for month_, currency, *sums in rows]


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
                None if days is None else Decimal(days).quantize(Decimal("0.1"), ROUNDING),
                sum(1 for p in group if p.days_to_target is not None),
            )
        )
    return summaries


def _facts(row: Any, until: date) -> PoolFacts:
    """One pool's facts from its row (_pools_query's columns, in order)."""
    pool_id, name, strategy, currency, status, manager, vintage, target, cap, *rest = row
    width = len(CAPITAL_LINES)
    lines, (days, amounts, days_to_target, investors, total, top1, top5, top10) = rest[:width], rest[width:]
    position = Position(*lines)
    nav = position.nav
    tvpi, dpi, rvpi = pool_multiples(position.paid_in, position.distributions, nav)
    return PoolFacts(
        pool_id=pool_id,
        name=name,
        strategy=strategy,
        currency=currency,
        status=status,
        manager=manager,
        vintage=vintage,
        target_size=target,
        hard_cap=cap,
        investors=investors,
        **dict(zip(_CAPITAL_NAMES, lines, strict=True)),
        tvpi=tvpi,
        dpi=dpi,
        rvpi=rvpi,
        irr=pool_irr(days, amounts, nav, until) if position.paid_in > 0 else None,
        raised_pct=(position.commitment * 100 / target).quantize(PERCENT, ROUNDING),
        days_to_target=days_to_target,
        top1_share=_share(top1, total),
        top5_share=_share(top5, total),
        top10_share=_share(top10, total),
    )


def _compute_explorer(uow: UnitOfWork, filters: Filters, version: str) -> Explorer:
    """Every figure of the explorer for `filters`, as of their end (their start only limits the
    capital over time, explorer_flows)."""
    until = filters.until
    assert until is not None
    _tune(uow)
    for setting in _ONE_PASS:
        uow.session.execute(text(setting))
    pools, drafts_left_out = [], 0
    for row in uow.session.execute(_pools_query(filters)):
        if row.status == PoolStatus.DRAFT.value and not filters.include_drafts:
            drafts_left_out += 1
        else:
            pools.append(_facts(row, until))
    return Explorer(filters, version, pools, _vintages(pools), drafts_left_out)


# The cache holds rows, not objects. The pools (thousands) are one JSON text of their own whose
# amounts are JSON numbers with a point or an exponent, so json.loads(parse_float=Decimal) reads
# each back as a Decimal in C; the few months and vintages are rows with text for Decimals and dates.


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


def _number(value: Decimal) -> str:
    text_ = str(value)
    return text_ if "." in text_ or "E" in text_ else text_ + ".0"


def _writer(kind: Any) -> Callable[[Any], str]:
    """How one PoolFacts field is written as JSON: a Decimal as a number _unpack reads back as one,
    text escaped by the json module's own C function, an int as it prints."""
    optional = type(None) in get_args(kind)
    base = next(a for a in get_args(kind) if a is not type(None)) if optional else kind
    write: Callable[[Any], str] = (
        _number if base is Decimal else encode_basestring_ascii if base is str else str  # str: an int
    )
    return (lambda v: "null" if v is None else write(v)) if optional else write


def _pack(items: list[PoolFacts]) -> str:
    """The pools as one JSON text: a writer per field, worked out once (ten thousand rows)."""
    writers = [_writer(kind) for kind in get_type_hints(PoolFacts).values()]
    rows = ["[" + ",".join([write(v) for write, v in zip(writers, i, strict=True)]) + "]" for i in items]
    return "[" + ",".join(rows) + "]"


def _unpack(text_: str) -> list[PoolFacts]:
    return [PoolFacts(*row) for row in json.loads(text_, parse_float=Decimal)]


def _dump_explorer(data: Explorer) -> dict[str, Any]:
    return {
        "filters": _rows([data.filters])[0],
        "version": data.version,
        "pools": _pack(data.pools),
        "vintages": _rows(data.vintages),
        "drafts_left_out": data.drafts_left_out,
    }


def _load_explorer(data: dict[str, Any]) -> Explorer:
    raw = data["filters"]
    return Explorer(
        Filters(
            tuple(raw[0]),
            tuple(raw[1]),
            tuple(raw[2]),
            tuple(raw[3]),
            tuple(raw[4]),
            None,
            date.fromisoformat(raw[6]),
            raw[7],
        ),
        data["version"],
        _unpack(data["pools"]),
        _objects(VintageSummary, data["vintages"]),
        data["drafts_left_out"],
    )


def _explorer(uow: UnitOfWork, chosen: Filters, version: str) -> Explorer:
    """The explorer at the platform's `version` (read once per request: it reads every pool)."""
    whole = replace(chosen, since=None)
    data = uow.cache.cached(
        _key(version, "explorer", asdict(whole)),
        lambda: _compute_explorer(uow, whole, version),
        _load_explorer,
        _dump_explorer,
        kept=True,  # thousands of pools: rebuilt from JSON on every rerun, they cost the most
    )
    return data if chosen.since is None else replace(data, filters=chosen)


@audits_refused_reads
def explorer(actor: Actor, uow: UnitOfWork, filters: Filters | None = None) -> Explorer:
    """Every chart's data for the filtered pools, from the cache when the platform has not moved."""
    require_role(actor, *PLATFORM_READERS)
    return _explorer(uow, (filters or Filters()).checked(), platform_version(uow))


@audits_refused_reads
def explorer_flows(actor: Actor, uow: UnitOfWork, filters: Filters | None = None) -> list[FlowMonth]:
    """Capital called, paid in and distributed per month and currency over the explorer's pools for
    `filters`, within their range. Read only when the page's "Capital over time" tab is open: the
    months of ten thousand pools cost a tenth of the explorer's first look."""
    require_role(actor, *PLATFORM_READERS)
    chosen = (filters or Filters()).checked()
    version = platform_version(uow)
    whole = replace(chosen, since=None)
    until = whole.until
    assert until is not None

    def compute() -> list[FlowMonth]:
        return _months(uow, [pool.pool_id for pool in _explorer(uow, whole, version).pools], until)

    months = uow.cache.cached(
        _key(version, "flows", asdict(whole)), compute, lambda rows: _objects(FlowMonth, rows), _rows
    )
    return months if chosen.since is None else [m for m in months if m.month >= chosen.since.replace(day=1)]


def flow_currencies(months: list[FlowMonth]) -> list[str]:
    """The currencies money moved in, the busiest first (the flows chart shows one at a time)."""
    volume: dict[str, Decimal] = {}
    for month in months:
        volume[month.currency] = volume.get(month.currency, ZERO) + month.called + month.distributions
    return sorted(volume, key=lambda c: (-volume[c], c))


def _first_month(uow: UnitOfWork, until: date) -> date | None:
    """The first month capital moved in: where the explorer's range starts."""
    d = read_model.pool_days(as_of=until, lines=_MONTH_LINES)
    first = uow.session.execute(select(func.min(d.c.day))).scalar_one()
    return None if first is None else first.replace(day=1)


def _drafts(uow: UnitOfWork) -> list[Any]:
    """The draft pools: they have no ledger yet, so the explorer's rows leave them out."""
    return list(
        uow.session.execute(
            select(Pool.id, Pool.name, Pool.strategy, Pool.currency, Pool.created_at)
            .where(Pool.status == PoolStatus.DRAFT.value)
            .order_by(Pool.id)
        ).all()
    )


@audits_refused_reads
def explorer_options(actor: Actor, uow: UnitOfWork) -> Options:
    """The values each explorer filter can take.

    Read off the unfiltered explorer (which the page shows first, so one computation serves both),
    plus the drafts, which have no ledger yet: their vintage is the year they were created."""
    require_role(actor, *PLATFORM_READERS)

    def compute() -> dict[str, Any]:
        whole = Filters().checked()
        assert whole.until is not None
        counted, drafts = _explorer(uow, whole, version), _drafts(uow)
        first = _first_month(uow, whole.until)
        managers = dict(
            uow.session.execute(
                select(User.id, User.name)
                .where(User.id.in_(select(Pool.manager_id).distinct()))
                .order_by(User.name)
            ).all()
        )
        return {
            "strategies": sorted({p.strategy for p in counted.pools} | {d.strategy for d in drafts}),
            "currencies": sorted({p.currency for p in counted.pools} | {d.currency for d in drafts}),
            "statuses": [s.value for s in PoolStatus],
            "vintages": sorted({p.vintage for p in counted.pools} | {d.created_at.year for d in drafts}),
            "managers": [{"id": i, "label": n} for i, n in managers.items()],
            "first_date": None if first is None else first.isoformat(),
        }

    version = platform_version(uow)
    data = uow.cache.cached(_key(version, "options", clock.today()), compute, lambda d: d)
    return Options(
        data["strategies"],
        data["currencies"],
        data["statuses"],
        data["vintages"],
        [Choice(**c) for c in data["managers"]],
        date.fromisoformat(data["first_date"]) if data["first_date"] else None,
    )


@audits_refused_reads
def compare_choices(actor: Actor, uow: UnitOfWork) -> list[Choice]:
    """Every pool for the comparison picker, drafts too, by name: a list of its own, so the
    explorer's filters never build (or read back) ten thousand labels."""
    require_role(actor, *PLATFORM_READERS)

    def compute() -> list[dict[str, Any]]:
        counted, drafts = _explorer(uow, Filters().checked(), version), _drafts(uow)
        status_label = {status.value: label(status) for status in PoolStatus}
        named = sorted(
            [(p.name, p.pool_id, p.currency, p.status) for p in counted.pools]
            + [(d.name, d.id, d.currency, PoolStatus.DRAFT.value) for d in drafts]
        )
        return [{"id": i, "label": f"{n} ({c}, {status_label[s]})"} for n, i, c, s in named]

    version = platform_version(uow)
    return [
        Choice(**c) for c in uow.cache.cached(_key(version, "choices", clock.today()), compute, lambda d: d)
    ]


# --- pool comparison ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePoint:
    """A pool's since-inception figures at one month end (the J-curve)."""

    month: date
    paid_in: Decimal
    distributions: Decimal
    nav: Decimal
    net_cash_flow: Decimal  # distributions - paid in: the J
    net_pct_of_commitment: Decimal | None
    tvpi: Decimal | None
    irr: Decimal | None


@dataclass(frozen=True)
class PoolCurve:
    pool_id: int
    name: str
    currency: str
    strategy: str
    commitment: Decimal
    paid_in: Decimal
    distributions: Decimal
    nav: Decimal
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    irr: Decimal | None
    points: list[CurvePoint]


def _month_ends(first: date, last: date) -> list[date]:
    ends, current = [], date(first.year, first.month, 1)
    while current <= last:
        following = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        ends.append(min(following - timedelta(days=1), last))
        current = following
    return ends


def _curve(pool: Any, days: list[tuple[date, Position]], until: date) -> PoolCurve:
    """Month-end points from the first day money moved to `until`, from each day's line changes."""
    position = Position()
    flow_days: list[date] = []
    flow_amounts: list[Decimal] = []
    points: list[CurvePoint] = []
    pending = list(days)
    first = next((day for day, change in days if change.contributions or change.distributions), None)
    for month_end in _month_ends(first, until) if first else []:
        while pending and pending[0][0] <= month_end:
            day, change = pending.pop(0)
            position += change
            for amount in (-change.contributions, change.distributions):
                if amount:
                    flow_days.append(day)
                    flow_amounts.append(amount)
        net = position.distributions - position.paid_in
        points.append(
            CurvePoint(
                month_end,
                position.paid_in,
                position.distributions,
                position.nav,
                net,
                _share(net, position.commitment) if position.commitment > 0 else None,
                pool_multiples(position.paid_in, position.distributions, position.nav)[0],
                pool_irr(flow_days, flow_amounts, position.nav, month_end) if position.paid_in > 0 else None,
            )
        )
    for _, change in pending:  # days before any money moved (commitments only)
        position += change
    return PoolCurve(
        pool.id,
        pool.name,
        pool.currency,
        pool.strategy,
        position.commitment,
        position.paid_in,
        position.distributions,
        position.nav,
        *pool_multiples(position.paid_in, position.distributions, position.nav),
        points[-1].irr if points else None,
        points,
    )


def _load_curves(data: list[dict[str, Any]]) -> list[PoolCurve]:
    """From the cache (dates as text) or fresh (dates as dates): the same curves."""

    def point(p: dict[str, Any]) -> CurvePoint:
        return CurvePoint(
            **{**p, "month": date.fromisoformat(p["month"]) if isinstance(p["month"], str) else p["month"]}
        )

    return [PoolCurve(**{**c, "points": [point(p) for p in c["points"]]}) for c in data]


@audits_refused_reads
def compare_pools(
    actor: Actor, uow: UnitOfWork, pool_ids: list[int], until: date | None = None
) -> list[PoolCurve]:
    """J-curves (month by month since the first money moved) and multiples of up to five pools."""
    require_role(actor, *PLATFORM_READERS)
    ids = list(dict.fromkeys(int(i) for i in pool_ids))
    if len(ids) > MAX_COMPARE:
        raise ValidationError("pools", f"can be at most {MAX_COMPARE} at a time", limit=MAX_COMPARE)
    end = until or clock.today()
    chosen = [visible_pool(uow, actor, pool_id) for pool_id in ids]
    if not chosen:
        return []

    def compute() -> list[PoolCurve]:
        m = read_model.pool_days(as_of=end, pool_ids=ids, lines=CAPITAL_LINES)
        by_pool: dict[int, list[tuple[date, Position]]] = {}
        query = read_model.select_positions(m, [m.c.pool_id, m.c.day]).order_by(m.c.pool_id, m.c.day)
        for row in uow.session.execute(query):
            by_pool.setdefault(row.pool_id, []).append((row.day, Position.of(row)))
        return [_curve(pool, by_pool.get(pool.id, []), end) for pool in chosen]

    key = _key(
        platform_version(uow), "compare", ids, end
    )  # the platform version covers these pools' ledgers and names
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
    "compare_choices",
    "compare_pools",
    "explorer",
    "explorer_flows",
    "explorer_options",
    "flow_currencies",
    "platform_version",
    "pool_irr",
    "pool_multiples",
]
