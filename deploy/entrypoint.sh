#!/bin/sh
# Entrypoint of the Investment Pools image: one image, the first argument picks the process.
#
#   app      python -m app serve                   (Streamlit on port 8501 plus /metrics; extra args go to streamlit)
#   worker   python -m core worker                 (RQ worker on $QUEUE_NAME; extra args e.g. --burst)
#   migrate  python -m core migrate                (Alembic upgrade head under an advisory lock)
#   cli ARGS python -m core ARGS                   (seed, createuser, verify, ...)
#
# Configuration is the environment only (see docs/operations.md). The embedded demo servers are not in
# the image, so DATABASE_URL and REDIS_URL are required here.
set -eu

role="${1:-app}"
if [ "$#" -gt 0 ]; then shift; fi

for name in DATABASE_URL REDIS_URL; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "entrypoint: $name must be set (the container has no embedded database or Redis)" >&2
    exit 64
  fi
done

# Tell deploy/healthcheck.py which process this container runs (/tmp is writable, also in Kubernetes).
printf '%s\n' "$role" > /tmp/pools-role 2>/dev/null || true

# prometheus_client multiprocess mode (RQ forks a work horse per job): when the variable is set, start
# from an empty directory so counters of a previous container life are not double counted.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"/* 2>/dev/null || true
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

cd "${APP_HOME:-/app}"  # the image sets nothing: /app; tests run the same script from a checkout
# Every app replica must sign Streamlit's own cookies (the provider sign-in's state) with one key,
# or a sign-in whose callback lands on another replica fails: default it to the app's cookie key.
if [ -z "${STREAMLIT_SERVER_COOKIE_SECRET:-}" ] && [ -n "${COOKIE_SECRET:-}" ]; then
  export STREAMLIT_SERVER_COOKIE_SECRET="$COOKIE_SECRET"
fi

case "$role" in
  app)
    # Port, address, headless mode and file watcher come from STREAMLIT_* variables set in the image.
    exec python -m app serve "$@"
    ;;
  worker)
    exec python -m core worker "$@"
    ;;
  migrate)
    exec python -m core migrate "$@"
    ;;
  cli)
    exec python -m core "$@"
    ;;
  *)
    echo "usage: entrypoint.sh app|worker|migrate|cli ARGS  (got: $role)" >&2
    exit 64
    ;;
esac
