#!/usr/bin/env bash
# Canary analysis for .github/workflows/deploy.yml: watch the canary's error rate in Prometheus for
# ANALYSIS_MINUTES and exit 0 (promote) or 1 (roll back). Fails closed: if Prometheus cannot be queried
# the canary is rolled back.
#
# Error-rate metrics (both must stay at or below MAX_ERROR_RATIO, over a 5-minute window):
#   http  5xx share of requests through the canary Ingress (ingress-nginx's controller metrics)
#   ops   failed share of operations finished by canary workers: pools_operations_total{track="canary"}
#         (the `track` pod label is copied onto the series by the kubernetes-pods scrape job)
# and no canary container may restart.
#
# Environment: PROMETHEUS_URL (required), PROMETHEUS_TOKEN (optional bearer token), NAMESPACE,
# ANALYSIS_MINUTES (default 15), INTERVAL_SECONDS (default 60), MAX_ERROR_RATIO (default 0.02).
set -euo pipefail

: "${PROMETHEUS_URL:?PROMETHEUS_URL must be set}"
NAMESPACE="${NAMESPACE:-investment-pools}"
ANALYSIS_MINUTES="${ANALYSIS_MINUTES:-15}"
INTERVAL_SECONDS="${INTERVAL_SECONDS:-60}"
MAX_ERROR_RATIO="${MAX_ERROR_RATIO:-0.02}"

HTTP_ERRORS='sum(rate(nginx_ingress_controller_requests{ingress="pools-app-canary",status=~"5.."}[5m])) / clamp_min(sum(rate(nginx_ingress_controller_requests{ingress="pools-app-canary"}[5m])), 1e-9)'
OPS_ERRORS='sum(rate(pools_operations_total{track="canary",status="failed"}[5m])) / clamp_min(sum(rate(pools_operations_total{track="canary"}[5m])), 1e-9)'
HTTP_VOLUME='sum(increase(nginx_ingress_controller_requests{ingress="pools-app-canary"}[5m]))'

query() {
  # Prints the scalar value of an instant query; an empty result (no traffic yet) counts as 0.
  local auth=()
  if [[ -n "${PROMETHEUS_TOKEN:-}" ]]; then auth=(-H "Authorization: Bearer ${PROMETHEUS_TOKEN}"); fi
  curl -fsS --max-time 20 "${auth[@]}" --get "${PROMETHEUS_URL%/}/api/v1/query" --data-urlencode "query=$1" \
    | jq -er 'if .status == "success" then (.data.result[0].value[1] // "0") else error("query failed") end'
}

above() { awk -v v="$1" -v max="$2" 'BEGIN { exit !(v == "NaN" || v + 0 > max + 0) }'; }

rounds=$(( ANALYSIS_MINUTES * 60 / INTERVAL_SECONDS ))
for (( round = 1; round <= rounds; round++ )); do
  sleep "$INTERVAL_SECONDS"
  http=$(query "$HTTP_ERRORS") || { echo "::error::Prometheus query failed: rolling back"; exit 1; }
  ops=$(query "$OPS_ERRORS") || { echo "::error::Prometheus query failed: rolling back"; exit 1; }
  volume=$(query "$HTTP_VOLUME") || volume="?"
  restarts=$(kubectl -n "$NAMESPACE" get pods -l track=canary \
    -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.restartCount}{"\n"}{end}{end}' \
    | awk '{ s += $1 } END { print s + 0 }')
  echo "canary round ${round}/${rounds}: http 5xx ratio=${http} (requests/5m=${volume}), failed ops ratio=${ops}, restarts=${restarts}"
  if above "$http" "$MAX_ERROR_RATIO"; then echo "::error::canary HTTP error ratio ${http} > ${MAX_ERROR_RATIO}"; exit 1; fi
  if above "$ops" "$MAX_ERROR_RATIO"; then echo "::error::canary failed-operation ratio ${ops} > ${MAX_ERROR_RATIO}"; exit 1; fi
  if (( restarts > 0 )); then echo "::error::canary containers restarted ${restarts} time(s)"; exit 1; fi
done
echo "canary healthy for ${ANALYSIS_MINUTES} minutes: promote"
