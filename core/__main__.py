"""Ops command line: python -m core {migrate,seed,createuser,verify,worker,statements}. The app is `python -m app`.

The composition root (core.bootstrap) is imported inside each command, not here: a worker must set
PROMETHEUS_MULTIPROC_DIR before any metric exists, and bootstrap's imports create them.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import tempfile
import time
from datetime import date

from core import logs, runtime
from core.settings import SettingsError, settings

log = logging.getLogger("investment_pools")


def _migrate(_: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(runtime.database_url())
    log.info("migrations applied")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from core import bootstrap, seed

    try:
        seed.refuse_in_production()
    except seed.ProductionRefusal as exc:
        print(exc, file=sys.stderr)
        return 2
    with bootstrap.unit_of_work() as uow:
        empty = seed.is_empty(uow)
    if args.investors or args.pools:
        started = time.perf_counter()
        with bootstrap.unit_of_work() as uow:
            seed.seed_scale(uow, args.investors or 1000, args.pools or 10)
            uow.commit()
        print(
            f"seeded {args.investors or 1000:,} investors and {args.pools or 10:,} pools "
            f"in {time.perf_counter() - started:.1f} s"
        )
        return 0
    if not empty:
        if args.if_empty:
            print("database already has data; demo seed skipped")
            return 0
        print("database already has users; refusing to seed the demo twice", file=sys.stderr)
        return 1
    seed.seed_demo(bootstrap.unit_of_work)
    print("demo data seeded; logins:")
    for username, password, role, *_ in seed.DEMO_USERS:
        print(f"  {role:<13} {username:<10} / {password}")
    return 0


def _createuser(args: argparse.Namespace) -> int:
    from core import bootstrap
    from core.errors import DomainError
    from core.permissions import Actor
    from core.services.users import create_user

    password = args.password
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("password (empty for a generated one): ") or None
    # Not interactive (a script, CI, a container) and no --password: a temporary one is generated.
    try:
        with bootstrap.unit_of_work() as uow:
            user_id, temporary = create_user(
                Actor.system(),
                uow,
                args.username,
                name=args.name or args.username,
                email=args.email,
                role=args.role,
                password=password,
                kyc_status=args.kyc,
                accreditation=args.accreditation,
            )
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(
        f"created user {args.username} (id {user_id})"
        + (f"; temporary password: {temporary}" if temporary else "")
    )
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _verify(args: argparse.Namespace) -> int:
    from core import bootstrap
    from core.verify import verify

    with bootstrap.unit_of_work() as uow:
        report = verify(uow.session, statement_sample=args.sample)
    print(report.summary())
    return 0 if report.ok else 1


def _worker(args: argparse.Namespace) -> int:
    if settings().metrics_port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # RQ forks a work horse per job; counters it increments reach /metrics only through
        # prometheus_client's multiprocess files, and the variable must be set before any metric exists.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pools-metrics-")
    from jobs.worker import run_worker

    if not _production_ready():
        return 2
    return run_worker(burst=args.burst)


def _statements(args: argparse.Namespace) -> int:
    """Issue a quarter's capital account statements for every running pool (the last ended quarter
    unless --quarter-end names one). Idempotent: a pool's quarter issued before is skipped, so a
    scheduler may run it again. The workers render and send what it writes."""
    from core.errors import DomainError
    from jobs.notices import issue_quarter_statements

    quarter_end = None if args.quarter_end is None else args.quarter_end.isoformat()
    try:
        written = issue_quarter_statements(quarter_end)
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(f"{written:,} statement(s) written; the workers render and send them")
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, not {value[:40]!r}") from None


def _production_ready() -> bool:
    """A production worker refuses to start with a default cookie key or demo passwords."""
    from core import bootstrap

    try:
        bootstrap.check_production_ready()
    except SettingsError as exc:
        log.error("refusing to start: %s", exc)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=_migrate)
    seed = sub.add_parser("seed", help="demo data, or scale data with --investors/--pools")
    seed.add_argument("--investors", type=int, default=0)
    seed.add_argument("--pools", type=int, default=0)
    seed.add_argument("--if-empty", action="store_true", help="seed the demo only into an empty database")
    seed.set_defaults(fn=_seed)
    user = sub.add_parser("createuser", help="create a user (any role)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=("investor", "fund_manager", "analyst", "admin"))
    user.add_argument("--email", required=True)
    user.add_argument("--name")
    user.add_argument("--password")
    user.add_argument("--kyc", default="pending", choices=("pending", "approved", "rejected", "expired"))
    user.add_argument(
        "--accreditation", default="none", choices=("none", "accredited", "qualified_purchaser")
    )
    user.set_defaults(fn=_createuser)
    check = sub.add_parser("verify", help="check every ledger invariant; non-zero exit on a violation")
    check.add_argument(
        "--sample",
        type=_positive,
        metavar="N",
        help="build the capital account statements of N random investor positions only "
        "(default: every position; the other checks always cover everything)",
    )
    check.set_defaults(fn=_verify)
    worker = sub.add_parser("worker", help="run an RQ worker for the operations queue")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(fn=_worker)
    statements = sub.add_parser(
        "statements",
        help="issue a quarter's capital account statements for every running pool (for a scheduler)",
    )
    statements.add_argument(
        "--quarter-end",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the quarter's last day (default: the last quarter that has ended)",
    )
    statements.set_defaults(fn=_statements)
    args = parser.parse_args(argv)
    if not start_process():
        return 2
    return args.fn(args)


def start_process() -> bool:
    """Every process's first step: read the settings (a malformed value, LOCKOUT_FAILURES=abc, is
    refused here by name), set up logging, and say which servers are in use."""
    try:
        config = settings()
        config.check()
    except SettingsError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return False
    logs.configure(config.log_level, config.log_format)
    log.info(runtime.describe())
    return True


if __name__ == "__main__":
    sys.exit(main())
