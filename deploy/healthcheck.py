"""Container health check for the Investment Pools image (Docker HEALTHCHECK, compose, Kubernetes exec).

    python deploy/healthcheck.py [app|worker]

app:    GET http://127.0.0.1:$STREAMLIT_SERVER_PORT/_stcore/health must answer 200.
worker: an RQ worker registered from this host (container/pod hostname) must have sent a heartbeat
        within the RQ worker TTL, i.e. the worker is alive and reachable through Redis.
Without an argument the role written by deploy/entrypoint.sh to /tmp/pools-role is used (default app);
one-shot roles (migrate, cli) are always healthy. Exit 0 healthy, 1 unhealthy.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

WORKER_TTL_SECONDS = 420  # rq.defaults.DEFAULT_WORKER_TTL: a live worker refreshes its key within this


def check_app() -> bool:
    port = os.environ.get("STREAMLIT_SERVER_PORT", "8501")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=4) as response:  # noqa: S310
        return response.status == 200


def check_worker() -> bool:
    import redis
    from rq import Worker

    connection = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3, socket_connect_timeout=3)
    host = socket.gethostname()
    now = datetime.now(UTC)
    for worker in Worker.all(connection=connection):
        if worker.hostname != host or worker.last_heartbeat is None:
            continue
        beat = worker.last_heartbeat
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        if (now - beat).total_seconds() < WORKER_TTL_SECONDS:
            return True
    return False


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else ""
    if not role:
        marker = Path("/tmp/pools-role")  # noqa: S108  (written by the entrypoint)
        role = marker.read_text().strip() if marker.exists() else "app"
    try:
        if role == "app":
            healthy = check_app()
        elif role == "worker":
            healthy = check_worker()
        else:
            healthy = True
    except Exception as exc:  # noqa: BLE001  (any failure is "unhealthy", with the reason printed)
        print(f"unhealthy ({role}): {exc}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"unhealthy ({role})", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
