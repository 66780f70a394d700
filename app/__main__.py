"""The app's command line: python -m app {run,serve}.

run    the demo: migrate, seed an empty database, start a worker and Streamlit (`make run`)
serve  Streamlit alone, with the process's /metrics server up first (what the container runs)
"""

from __future__ import annotations

import argparse
import sys

from core.__main__ import start_process
from core.settings import ROOT, SettingsError, settings


def _production_ready() -> bool:
    from core import bootstrap

    try:
        bootstrap.check_production_ready()
    except SettingsError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return False
    return True


def _serve(args: argparse.Namespace) -> int:
    from streamlit.web import cli as streamlit_cli

    from core import metrics

    if not _production_ready():
        return 2
    if settings().metrics_port:
        metrics.serve(settings().metrics_port)
    sys.argv = ["streamlit", "run", str(ROOT / "Home.py"), *args.streamlit_args]
    return streamlit_cli.main()


def _run(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # it speaks on import
    from app.launcher import launch, quiet_setup

    quiet_setup()
    return launch(port=args.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed if empty, start a worker and Streamlit")
    run.add_argument("--port", type=int, default=None, help="default: STREAMLIT_SERVER_PORT or 8501")
    run.set_defaults(fn=_run)
    serve = sub.add_parser("serve", help="run the Streamlit app (what the container image runs)")
    serve.set_defaults(fn=_serve)
    # Everything after `serve` that is not ours goes to `streamlit run` (e.g. --server.port 8502).
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.streamlit_args = extra
    if not start_process():
        return 2
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
