"""CSV exports for admins: transactions, capital accounts, commitments, call items, audit log.

Every export is one SQL query streamed by PostgreSQL's COPY ... TO STDOUT straight into a file
object, chunk by chunk, so memory stays flat whatever the size. Free-text cells are neutralised
against spreadsheet formula injection inside the query (core.csvsafe.sql_text); numbers are
NUMERIC and stay numbers, rounded to the currency's minor unit.

The transactions and capital accounts read the ledger through its one read model
(core.ledger.read_model.movements, compiled to SQL text for COPY): the same lines, signs and date
rule as every other surface (docs/figures.md); amounts leave at their currency's precision.

Small exports are built in the request and handed to the page as bytes. Large ones (more than
INLINE_LIMIT rows) become an `export` operation (ExportCsv, below): a worker writes
the file under settings().data_dir/exports in keyset batches of BATCH_ROWS, each batch committed
with its progress; a rerun truncates the file back to the last committed batch, so it is idempotent.
Each export sees the data as of its request: rows are cut at the table's max id at that moment.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from core import clock, operations
from core.csvsafe import sql_text as t
from core.domain import parse_date
from core.errors import InvalidState, NotFound, ValidationError
from core.ledger import CAPITAL_LINES, NAV_LINES, Line, read_model
from core.money import MINOR_UNITS
from core.operations.kind import Kind
from core.permissions import ADMIN, Actor, require_role
from core.services.audit import audits_refused_reads, records_refusals
from core.settings import settings
from core.uow import UnitOfWork
from db.models import Operation

INLINE_LIMIT = 50_000  # rows; above this an export is built by a background operation
BATCH_ROWS = 200_000  # rows per committed batch of a background export
KEEP_DAYS = 7  # export files older than this are deleted when a new export is requested
KIND = "export"

_MINOR = (
    "CASE {c} "
    + " ".join(f"WHEN '{code}' THEN {units}" for code, units in MINOR_UNITS.items())
    + " ELSE 4 END"
)
_LABEL = "CASE {c} " + " ".join(f"WHEN '{line.value}' THEN '{line.label}'" for line in Line) + " END"


def _money(expression: str, currency: str) -> str:
    """An amount at its currency's minor unit: 1250.5000 leaves the database as 1250.50."""
    return f"round({expression}, {_MINOR.format(c=currency)})"


def _sql(query: Any) -> str:
    """A SQLAlchemy query as SQL text with its values inlined, for COPY (which takes no parameters);
    a % is doubled, since psycopg merges the export's own parameters into the text."""
    compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled).replace("%", "%%")


@dataclass(frozen=True)
class Report:
    """An export: its rows query, the query of its rows' keys (counts and batches), and the highest
    id at request time. The queries are templates: {where} takes extra conditions (a batch's key
    range), and {movements} the ledger's read model for the request, when the report reads it."""

    name: str
    title: str
    dated_by: str  # what the date range applies to, as the page explains it
    key: tuple[str, ...]  # the unique, ordered key of a row, as qualified columns of the base query
    rows: str
    keys: str
    snapshot: str  # the highest id at request time: later rows are not part of this export
    movements: Callable[[ExportRequest], Any] | None = None

    def sql(self, request: ExportRequest, where: str = "", *, keys: bool = False) -> str:
        template = self.keys if keys else self.rows
        movements = "" if self.movements is None else _sql(select(self.movements(request)))
        return template.format(where=where, movements=movements)


def _movements_with_entries(request: ExportRequest) -> Any:
    """Every movement of the read model dated within the request's range; its entry_id is the
    export's key (movements stream in entry id order, batch by batch)."""
    return read_model.movements(as_of=request.until, since=request.since)


# One row per movement of the read model (core.ledger.read_model): the line it moves, named as an
# ILPA capital account (or the pool's books) names it, and the amount signed as it moves that line,
# at its currency's precision. Lookups go through LATERAL subqueries that PostgreSQL memoizes: each
# journal's, pool's and user's text is formatted and neutralised once, not once per movement.
TRANSACTIONS = Report(
    "transactions",
    "Transactions (ledger movements)",
    "the journal's effective date",
    ("m.entry_id",),
    f"""SELECT m.entry_id, m.journal_id, m.day AS effective_date, j.posted_at, m.kind AS journal_kind,
               j.memo, j.reverses_id AS reverses_journal_id, m.pool_id, p.name AS pool_name, m.investor_id,
               u.username AS investor_username, u.name AS investor_name,
               {_LABEL.format(c="m.line")} AS line, p.currency, {_money("m.amount", "p.currency")} AS amount
          FROM ({{movements}}) m
         CROSS JOIN LATERAL (SELECT posted_at::text AS posted_at, {t("memo")} AS memo, reverses_id
                               FROM journals WHERE journals.id = m.journal_id OFFSET 0) j
         CROSS JOIN LATERAL (SELECT {t("name")} AS name, currency FROM pools WHERE pools.id = m.pool_id OFFSET 0) p
          LEFT JOIN LATERAL (SELECT {t("username")} AS username, {t("name")} AS name
                               FROM users WHERE users.id = m.investor_id OFFSET 0) u ON true
         WHERE m.entry_id <= %(upto)s {{where}}
         ORDER BY m.entry_id""",
    "SELECT m.entry_id FROM ({movements}) m WHERE m.entry_id <= %(upto)s {where}",
    "SELECT coalesce(max(id), 0) FROM entries",
    _movements_with_entries,
)


def _capital_movements(request: ExportRequest) -> Any:
    return read_model.movements(as_of=request.until, lines=CAPITAL_LINES)


def _line(line: Line, period: bool = False) -> str:
    """A capital line's sum per position: to the end of the range, or within it (period)."""
    within = " AND (%(since)s::date IS NULL OR m.day >= %(since)s::date)" if period else ""
    return f"coalesce(sum(m.amount) FILTER (WHERE m.line = '{line.value}'{within}), 0)"


def _nav(period: bool = False) -> str:
    """The capital account (NAV): the NAV lines added up by their signs (core.ledger's Line.nav_sign)."""
    return " + ".join(f"({line.nav_sign}) * {_line(line, period)}" for line in NAV_LINES)


_PERIOD_COLUMNS = ", ".join(
    f"{_money('a.' + line.value, 'p.currency')} AS {line.value}" for line in NAV_LINES
)
_PERIOD_SUMS = ", ".join(f"{_line(line, period=True)} AS {line.value}" for line in NAV_LINES)

# Per pool and investor, the capital account for the range (docs/figures.md): the opening NAV
# before it, each NAV line's movements within it (realized gain, unrealized gain and carried
# interest each on its own), the closing NAV and the commitment at its end, and to date: capital
# called, paid-in, unfunded (commitment - called) and outstanding (called - paid-in), as
# read_model.Position defines them.
CAPITAL_ACCOUNTS = Report(
    "capital_accounts",
    "Capital accounts per pool and investor",
    "the period: opening NAV before it, movements within it, closing figures at its end",
    ("m.pool_id", "m.investor_id"),
    f"""SELECT a.pool_id, {t("p.name")} AS pool_name, p.currency, a.investor_id,
               {t("u.username")} AS investor_username, {t("u.name")} AS investor_name,
               {_money("a.commitment", "p.currency")} AS commitment,
               {_money("a.closing_nav - a.period_nav", "p.currency")} AS opening_nav,
               {_PERIOD_COLUMNS},
               {_money("a.closing_nav", "p.currency")} AS closing_nav,
               {_money("a.called", "p.currency")} AS called_to_date,
               {_money("a.paid_in", "p.currency")} AS paid_in_to_date,
               {_money("a.commitment - a.called", "p.currency")} AS unfunded,
               {_money("a.called - a.paid_in", "p.currency")} AS outstanding
          FROM (SELECT m.pool_id, m.investor_id,
                       {_line(Line.COMMITMENT)} AS commitment,
                       {_PERIOD_SUMS},
                       {_nav(period=True)} AS period_nav,
                       {_nav()} AS closing_nav,
                       {_line(Line.CALLED)} AS called,
                       {_line(Line.CONTRIBUTIONS)} AS paid_in
                  FROM ({{movements}}) m
                 WHERE m.investor_id IS NOT NULL AND m.journal_id <= %(upto)s {{where}}
                 GROUP BY m.pool_id, m.investor_id) a
          JOIN pools p ON p.id = a.pool_id
          JOIN users u ON u.id = a.investor_id
         ORDER BY a.pool_id, a.investor_id""",
    """SELECT DISTINCT m.pool_id, m.investor_id FROM ({movements}) m
        WHERE m.investor_id IS NOT NULL AND m.journal_id <= %(upto)s {where}""",
    "SELECT coalesce(max(id), 0) FROM journals",
    _capital_movements,
)

COMMITMENTS = Report(
    "commitments",
    "Commitments",
    "the date the commitment was made",
    ("c.id",),
    f"""SELECT c.id AS commitment_id, c.pool_id, {t("p.name")} AS pool_name, p.currency, c.investor_id,
               {t("u.username")} AS investor_username, {t("u.name")} AS investor_name, c.gp::text AS gp_commitment,
               c.status, {_money("c.amount_requested", "p.currency")} AS amount_requested,
               {_money("c.amount_accepted", "p.currency")} AS amount_accepted,
               c.created_at, c.decided_at, {t("d.username")} AS decided_by
          FROM commitments c
          JOIN pools p ON p.id = c.pool_id
          JOIN users u ON u.id = c.investor_id
          LEFT JOIN users d ON d.id = c.decided_by
         WHERE c.id <= %(upto)s AND (%(since_ts)s::timestamptz IS NULL OR c.created_at >= %(since_ts)s::timestamptz)
           AND c.created_at < %(until_ts)s::timestamptz {{where}}
         ORDER BY c.id""",
    """SELECT c.id FROM commitments c
        WHERE c.id <= %(upto)s AND (%(since_ts)s::timestamptz IS NULL OR c.created_at >= %(since_ts)s::timestamptz)
          AND c.created_at < %(until_ts)s::timestamptz {where}""",
    "SELECT coalesce(max(id), 0) FROM commitments",
)

CALL_ITEMS = Report(
    "call_items",
    "Capital call items",
    "the call date",
    ("ci.id",),
    f"""SELECT ci.id AS call_item_id, ci.call_id, cc.pool_id, {t("p.name")} AS pool_name, p.currency,
               cc.call_date, cc.due_date, {t("cc.purpose")} AS purpose, cc.status AS call_status,
               ci.investor_id, {t("u.username")} AS investor_username, {t("u.name")} AS investor_name,
               {_money("ci.amount_due", "p.currency")} AS amount_due,
               {_money("ci.amount_paid", "p.currency")} AS amount_paid,
               {_money("ci.amount_due - ci.amount_paid", "p.currency")} AS outstanding,
               ci.status
          FROM call_items ci
          JOIN capital_calls cc ON cc.id = ci.call_id
          JOIN pools p ON p.id = cc.pool_id
          JOIN users u ON u.id = ci.investor_id
         WHERE ci.id <= %(upto)s AND (%(since)s::date IS NULL OR cc.call_date >= %(since)s::date)
           AND cc.call_date <= %(until)s::date {{where}}
         ORDER BY ci.id""",
    """SELECT ci.id FROM call_items ci JOIN capital_calls cc ON cc.id = ci.call_id
        WHERE ci.id <= %(upto)s AND (%(since)s::date IS NULL OR cc.call_date >= %(since)s::date)
          AND cc.call_date <= %(until)s::date {where}""",
    "SELECT coalesce(max(id), 0) FROM call_items",
)

AUDIT_LOG = Report(
    "audit_log",
    "Audit log",
    "the time of the change",
    ("a.id",),
    f"""SELECT a.id AS audit_id, a.at, {t("u.username")} AS actor, {t("a.action")} AS action,
               {t("a.object_type")} AS object_type, {t("a.object_id")} AS object_id, a.outcome,
               {t("a.reason")} AS reason, {t("a.before::text")} AS before, {t("a.after::text")} AS after
          FROM audit_log a
          LEFT JOIN users u ON u.id = a.actor_id
         WHERE a.id <= %(upto)s AND (%(since_ts)s::timestamptz IS NULL OR a.at >= %(since_ts)s::timestamptz)
           AND a.at < %(until_ts)s::timestamptz {{where}}
         ORDER BY a.id""",
    """SELECT a.id FROM audit_log a
        WHERE a.id <= %(upto)s AND (%(since_ts)s::timestamptz IS NULL OR a.at >= %(since_ts)s::timestamptz)
          AND a.at < %(until_ts)s::timestamptz {where}""",
    "SELECT coalesce(max(id), 0) FROM audit_log",
)

REPORTS: dict[str, Report] = {
    r.name: r for r in (TRANSACTIONS, CAPITAL_ACCOUNTS, COMMITMENTS, CALL_ITEMS, AUDIT_LOG)
}


# --- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a report and a date range (inclusive; no start means from the beginning)."""

    report: str
    since: date | None
    until: date

    @classmethod
    def of(cls, report: object, since: object, until: object) -> ExportRequest:
        if not isinstance(report, str) or report not in REPORTS:
            raise ValidationError("report", f"must be one of {', '.join(REPORTS)}")
        start = None if since in (None, "") else parse_date(since, "since")
        end = clock.today() if until in (None, "") else parse_date(until, "until")
        if start is not None and start > end:
            raise ValidationError("since", "must not be after the end of the range")
        return cls(report, start, end)

    @property
    def file_name(self) -> str:
        """What the file holds: transactions_2026-01-01_to_2026-12-07.csv, or
        transactions_all_to_2026-12-07.csv from the beginning."""
        return f"{self.report}_{self.since or 'all'}_to_{self.until}.csv"

    def payload(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
        }

    def params(self, upto: int) -> dict[str, Any]:
        midnight = dtime(0, tzinfo=UTC)
        return {
            "since": self.since,
            "until": self.until,
            "since_ts": datetime.combine(self.since, midnight) if self.since else None,
            "until_ts": datetime.combine(self.until + timedelta(days=1), midnight),
            "upto": upto,
        }


@dataclass(frozen=True)
class ExportStarted:
    """An inline export (data holds the file) or a background one (operation_id to follow)."""

    report: str
    file_name: str
    rows: int
    data: bytes | None
    operation_id: uuid.UUID | None


@dataclass(frozen=True)
class ExportInfo:
    operation_id: uuid.UUID
    report: str
    title: str
    since: date | None
    until: date
    status: str
    progress_done: int
    progress_total: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    file_name: str
    available: bool

    @property
    def fraction(self) -> float:
        """For a progress bar only."""
        if self.status == "done":
            return 1.0
        return self.progress_done / self.progress_total if self.progress_total else 0.0


# --- streaming -------------------------------------------------------------------------------------


def _raw(uow: UnitOfWork) -> Any:
    """The psycopg connection under the unit of work's transaction (COPY needs the driver)."""
    connection: Any = uow.session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # timestamps leave in UTC, whoever runs it
        # A long, simple scan: compiling it (JIT) costs seconds and saves nothing.
        cursor.execute("SET LOCAL jit = off")
    return connection


def _copy(uow: UnitOfWork, sql: str, params: dict[str, Any], out: BinaryIO, *, header: bool) -> int:
    """COPY (sql) TO STDOUT as CSV into out, one chunk at a time; the number of rows."""
    with _raw(uow).cursor() as cursor:
        statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER {'true' if header else 'false'})"
        with cursor.copy(statement, params) as copy:
            for chunk in copy:
                out.write(chunk)
        return cursor.rowcount


def _scalar(uow: UnitOfWork, sql: str, params: dict[str, Any] | None = None) -> Any:
    with _raw(uow).cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else (row[0] if len(row) == 1 else list(row))


def _count(uow: UnitOfWork, report: Report, request: ExportRequest, params: dict[str, Any]) -> int:
    return _scalar(uow, f"SELECT count(*) FROM ({report.sql(request, keys=True)}) s", params)


def _range(report: Report, start: Sequence[Any] | None, stop: Sequence[Any] | None) -> tuple[str, dict]:
    """Conditions and parameters for the keys in [start, stop)."""
    key = f"({', '.join(report.key)})"
    conditions, params = "", dict[str, Any]()
    for name, bound, op in (("from", start, ">="), ("to", stop, "<")):
        if bound is not None:
            names = [f"{name}_{i}" for i in range(len(report.key))]
            conditions += f" AND {key} {op} ({', '.join(f'%({n})s' for n in names)})"
            params.update(zip(names, bound, strict=True))
    return conditions, params


@audits_refused_reads
def export_to(
    actor: Actor, uow: UnitOfWork, report: str, out: BinaryIO, *, since: object = None, until: object = None
) -> int:
    """Stream one report as CSV (with a header) into a binary file object; the number of rows."""
    require_role(actor, ADMIN)
    request = ExportRequest.of(report, since, until)
    chosen = REPORTS[request.report]
    params = request.params(_scalar(uow, chosen.snapshot))
    return _copy(uow, chosen.sql(request), params, out, header=True)


@records_refusals("export.request", "export")
def start_export(
    actor: Actor,
    uow: UnitOfWork,
    report: str,
    since: object = None,
    until: object = None,
    *,
    request_key: str | None = None,
    enqueue: bool = True,
    inline_limit: int | None = None,
) -> ExportStarted:
    """An admin asks for an export: small ones come back as bytes, large ones start an operation."""
    require_role(actor, ADMIN)
    inline_limit = INLINE_LIMIT if inline_limit is None else inline_limit
    request = ExportRequest.of(report, since, until)
    chosen = REPORTS[request.report]
    params = request.params(_scalar(uow, chosen.snapshot))
    rows = _count(uow, chosen, request, params)
    if rows > inline_limit:
        _remove_old_files()
        status = operations.submit(
            actor,
            uow,
            None,
            KIND,
            request.payload(),
            idempotency_key=f"{KIND}:{request_key or uuid.uuid4().hex}",
            queue=uow.queue if enqueue else None,
        )
        return ExportStarted(request.report, request.file_name, status.progress_total, None, status.id)
    buffer = io.BytesIO()
    written = _copy(uow, chosen.sql(request), params, buffer, header=True)
    uow.audit(
        actor.user_id,
        "export.download",
        "export",
        request.report,
        after={**request.payload(), "rows": written},
    )
    uow.commit()
    return ExportStarted(request.report, request.file_name, written, buffer.getvalue(), None)


# --- the background operation (run by ExportCsv) ----------------------------


def export_dir() -> Path:
    return settings().data_dir / "exports"


def _path(operation_id: uuid.UUID | str) -> Path:
    return export_dir() / f"{uuid.UUID(str(operation_id))}.csv"


def _remove_old_files() -> None:
    """Best effort: exports are downloads, not archives."""
    cutoff = time.time() - KEEP_DAYS * 86400
    try:
        for path in export_dir().glob("*.csv"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
    except OSError:
        pass


def prepare_job(actor: Actor, uow: UnitOfWork, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Validate an export operation's payload, fix its snapshot, and count its rows."""
    require_role(actor, ADMIN)
    if not isinstance(payload, dict):
        raise ValidationError("payload", "must be a mapping")
    request = ExportRequest.of(payload.get("report"), payload.get("since"), payload.get("until"))
    chosen = REPORTS[request.report]
    upto = _scalar(uow, chosen.snapshot)
    return {**request.payload(), "upto": upto}, _count(uow, chosen, request, request.params(upto))


def run_job_batch(actor: Actor, uow: UnitOfWork, op: Operation, batch_rows: int | None = None) -> int:
    """Append the next keyset batch to the file; the new progress. A rerun redoes the same batch."""
    require_role(actor, ADMIN)
    payload = op.payload
    request = ExportRequest.of(payload["report"], payload.get("since"), payload["until"])
    chosen = REPORTS[request.report]
    params = request.params(int(payload["upto"]))
    state = dict(op.result or {})
    start, written, rows_before = state.get("from"), int(state.get("bytes", 0)), int(state.get("rows", 0))
    path = _path(op.id)
    if written and not path.exists():
        raise InvalidState("the partly written export file is gone; request the export again")
    range_sql, range_params = _range(chosen, start, None)
    stop = _scalar(
        uow,
        f"SELECT * FROM ({chosen.sql(request, range_sql, keys=True)}) s ORDER BY {', '.join(str(i + 1) for i in range(len(chosen.key)))} "
        "OFFSET %(batch)s LIMIT 1",
        {**params, **range_params, "batch": batch_rows or BATCH_ROWS},
    )
    stop = None if stop is None else (stop if isinstance(stop, list) else [stop])
    range_sql, range_params = _range(chosen, start, stop)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("r+b" if written else "wb") as out:
        out.truncate(written)
        out.seek(written)
        rows = _copy(uow, chosen.sql(request, range_sql), {**params, **range_params}, out, header=not written)
        out.flush()
        os.fsync(out.fileno())
        size = out.tell()
    op.result = {"from": stop, "bytes": size, "rows": rows_before + rows}
    if stop is None:
        return op.progress_total
    return min(op.progress_done + rows, max(op.progress_total - 1, 0))


def finish_job(uow: UnitOfWork, op: Operation) -> dict[str, Any]:
    state = op.result or {}
    request = ExportRequest.of(op.payload["report"], op.payload.get("since"), op.payload["until"])
    uow.audit(
        op.actor_id,
        "export.download",
        "export",
        request.report,
        after={**request.payload(), "rows": state.get("rows", 0), "operation": str(op.id)},
    )
    return {"file_name": request.file_name, "rows": state.get("rows", 0), "bytes": state.get("bytes", 0)}


# --- listing and downloading ---------------------------------------------------------------------------


@audits_refused_reads
def recent_exports(actor: Actor, uow: UnitOfWork, limit: int = 20) -> list[ExportInfo]:
    """The latest background exports, newest first, with whether their file can be downloaded."""
    require_role(actor, ADMIN)
    found = uow.session.execute(
        select(Operation).where(Operation.kind == KIND).order_by(Operation.created_at.desc()).limit(limit)
    ).scalars()
    result = []
    for op in found:
        request = ExportRequest.of(op.payload.get("report"), op.payload.get("since"), op.payload.get("until"))
        result.append(
            ExportInfo(
                op.id,
                request.report,
                REPORTS[request.report].title,
                request.since,
                request.until,
                op.status,
                op.progress_done,
                op.progress_total,
                op.error,
                op.created_at,
                op.finished_at,
                request.file_name,
                op.status == "done" and _path(op.id).exists(),
            )
        )
    return result


@dataclass(frozen=True)
class ExportFile:
    file_name: str
    path: Path
    rows: int
    size: int

    def read(self) -> bytes:
        """The file's bytes, read only when the download is clicked."""
        return self.path.read_bytes()


@audits_refused_reads
def export_file(actor: Actor, uow: UnitOfWork, operation_id: uuid.UUID | str) -> ExportFile:
    """A finished background export's file, for the download button."""
    require_role(actor, ADMIN)
    try:
        op = uow.session.get(Operation, uuid.UUID(str(operation_id)))
    except ValueError:
        op = None
    if op is None or op.kind != KIND:
        raise NotFound("no such export")
    if op.status != "done":
        raise InvalidState(f"this export is {op.status}, not ready")
    path = _path(op.id)
    if not path.exists():
        raise NotFound("this export's file has been removed; request it again")
    result = op.result or {}
    return ExportFile(
        result.get("file_name", path.name), path, int(result.get("rows", 0)), path.stat().st_size
    )


class ExportCsv(Kind):
    """An admin's large CSV export, written in keyset batches to a file (see core.services.exports)."""

    name = "export"
    needs_pool = False

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        return prepare_job(actor, uow, payload)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        return run_job_batch(actor, uow, op)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return finish_job(uow, op)
