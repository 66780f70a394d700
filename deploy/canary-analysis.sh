#!/usr/bin/env bash
# Canary analysis for .github/workflows/deploy.yml: watch the canary's error rate in Prometheus for
# ANALYSIS_MINUTES and exit 0 (promote) or 1 (do not promote: the workflow rolls back). Fails closed: a
# Prometheus query that fails, or too little canary traffic to judge, means no promotion.
#
# Error-rate metrics (both must stay at or below MAX_ERROR_RATIO, over a 5-minute window):
#   http  5xx share of the requests ingress-nginx sent to the canary. ingress-nginx merges a canary
#         Ingress into the location of the main Ingress, so canary requests are counted on the MAIN
#         Ingress's series (ingress="pools-app", service="pools-app") with the label
#         canary="<namespace>-<canary service>-<port>": the name of the alternative upstream the request
#         was balanced to (monitor.lua reports $proxy_alternative_upstream_name, which balancer.lua sets
#         only when it routes a request to the canary; it is empty, so the label is absent, otherwise).
#         There is no series with ingress="pools-app-canary".
#   ops   failed share of operations finished by canary workers: pools_operations_total{track="canary"}
#         (the `track` pod label is copied onto the series by the kubernetes-pods scrape job)
# and no canary container may restart. At the end the canary must have served at least
# MIN_CANARY_REQUESTS requests during the analysis, or it is not promoted (too little traffic proves
# nothing: raise the weight, lengthen the analysis, or send testers with the X-Pools-Canary header).
#
# Environment: PROMETHEUS_URL (required), PROMETHEUS_TOKEN (optional bearer token), NAMESPACE,
# INGRESS (pools-app), CANARY_SERVICE (pools-app-canary), ANALYSIS_MINUTES (default 15; ANALYSIS_SECONDS
# overrides it), INTERVAL_SECONDS (default 60), MAX_ERROR_RATIO (default 0.02),
# MIN_CANARY_REQUESTS (default 100).
set -euo pipefail

: "${PROMETHEUS_URL:?PROMETHEUS_URL must be set}"
NAMESPACE="${NAMESPACE:-investment-pools}"
INGRESS="${INGRESS:-pools-app}"
CANARY_SERVICE="${CANARY_SERVICE:-pools-app-canary}"
ANALYSIS_MINUTES="${ANALYSIS_MINUTES:-15}"
ANALYSIS_SECONDS="${ANALYSIS_SECONDS:-$(( ANALYSIS_MINUTES * 60 ))}"
INTERVAL_SECONDS="${INTERVAL_SECONDS:-60}"
MAX_ERROR_RATIO="${MAX_ERROR_RATIO:-0.02}"
MIN_CANARY_REQUESTS="${MIN_CANARY_REQUESTS:-100}"

# Requests ingress-nginx balanced to the canary's upstream (see above); the port part of the upstream
# name is the Service port's number or name, so it is matched by pattern.
CANARY_LABELS="namespace=\"${NAMESPACE}\",ingress=\"${INGRESS}\",canary=~\"${NAMESPACE}-${CANARY_SERVICE}-.+\""
HTTP_ERRORS="sum(rate(nginx_ingress_controller_requests{${CANARY_LABELS},status=~\"5..\"}[5m])) / clamp_min(sum(rate(nginx_ingress_controller_requests{${CANARY_LABELS}}[5m])), 1e-9)"
HTTP_VOLUME="sum(increase(nginx_ingress_controller_requests{${CANARY_LABELS}}[5m]))"
HTTP_TOTAL="sum(increase(nginx_ingress_controller_requests{${CANARY_LABELS}}[${ANALYSIS_SECONDS}s]))"
OPS_ERRORS='sum(rate(pools_operations_total{track="canary",status="failed"}[5m])) / clamp_min(sum(rate(pools_operations_total{track="canary"}[5m])), 1e-9)'

query() {
  # Prints the scalar value of an instant query; an empty result (no traffic yet) counts as 0.
  local auth=()
  if [[ -n "${PROMETHEUS_TOKEN:-}" ]]; then auth=(-H "Authorization: Bearer ${PROMETHEUS_TOKEN}"); fi
  curl -fsS --max-time 20 "${auth[@]}" --get "${PROMETHEUS_URL%/}/api/v1/query" --data-urlencode "query=$1" \
    | jq -er 'if .status == "success" then (.data.result[0].value[1] // "0") else error("query failed") end'
}

above() { awk -v v="$1" -v max="$2" 'BEGIN { exit !(v == "NaN" || v + 0 > max + 0) }'; }
below() { awk -v v="$1" -v min="$2" 'BEGIN { exit !(v == "NaN" || v + 0 < min + 0) }'; }

rounds=$(( ANALYSIS_SECONDS / INTERVAL_SECONDS ))
if (( rounds < 1 )); then rounds=1; fi
for (( round = 1; round <= rounds; round++ )); do
  sleep "$INTERVAL_SECONDS"
  http=$(query "$HTTP_ERRORS") || { echo "::error::Prometheus query failed: not promoting"; exit 1; }
  ops=$(query "$OPS_ERRORS") || { echo "::error::Prometheus query failed: not promoting"; exit 1; }
  volume=$(query "$HTTP_VOLUME") || volume="?"
  restarts=$(kubectl -n "$NAMESPACE" get pods -l track=canary \
    -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.restartCount}{"\n"}{end}{end}' \
    | awk '{ s += $1 } END { print s + 0 }')
  echo "canary round ${round}/${rounds}: http 5xx ratio=${http} (canary requests/5m=${volume}), failed ops ratio=${ops}, restarts=${restarts}"
  if above "$http" "$MAX_ERROR_RATIO"; then echo "::error::canary HTTP error ratio ${http} > ${MAX_ERROR_RATIO}"; exit 1; fi
  if above "$ops" "$MAX_ERROR_RATIO"; then echo "::error::canary failed-operation ratio ${ops} > ${MAX_ERROR_RATIO}"; exit 1; fi
  if (( restarts > 0 )); then echo "::error::canary containers restarted ${restarts} time(s)"; exit 1; fi
done

total=$(query "$HTTP_TOTAL") || { echo "::error::Prometheus query failed: not promoting"; exit 1; }
if below "$total" "$MIN_CANARY_REQUESTS"; then
  echo "::error::the canary served ${total} request(s) in ${ANALYSIS_SECONDS} s, fewer than MIN_CANARY_REQUESTS=${MIN_CANARY_REQUESTS}: too little traffic to judge it, not promoting"
  exit 1
fi
echo "canary healthy for ${ANALYSIS_SECONDS} s with ${total} canary requests: promote"
