#!/usr/bin/env bash
# Alternates a ceiling with scenarios against one fresh release server, so each ratio is
# taken against a ceiling measured seconds before it; this VM's ceilings drift by a
# quarter between runs. Prints one line per round, then the server's session-lookup
# counters. Usage: bench/rounds.sh sqlite|postgres ROUNDS CEILING SCENARIO...
# e.g. bench/rounds.sh postgres 3 echo-verify validate get-account
# Environment: DURATION (5s), WARMUP (1s), CONNECTIONS (4), CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?sqlite or postgres}
rounds=${2:?number of rounds}
ceiling=${3:?ceiling scenario: echo or echo-verify}
shift 3
source bench/server.sh
start_server "$backend" "$(mktemp /tmp/identity-rounds-XXXXXX.log)"

requests_per_sec() {
    against_server "$1" --duration "${DURATION:-5s}" --warmup "${WARMUP:-1s}" \
        --connections "${CONNECTIONS:-4}" --concurrency "${CONCURRENCY:-32}" --json >"$work/round.json"
    sed -n 's/.*"requests_per_sec": \([0-9.]*\).*/\1/p' "$work/round.json"
}

for round in $(seq "$rounds"); do
    limit=$(requests_per_sec "$ceiling")
    line="$backend round $round: $ceiling $(printf %.0f "$limit")/s"
    for scenario in "$@"; do
        rate=$(requests_per_sec "$scenario")
        line+=", $scenario $(printf %.0f "$rate")/s ($(awk "BEGIN{printf \"%.2f\", $rate/$limit}") ×)"
    done
    echo "$line"
done
curl -s "$metrics" | grep '^identity_session_lookup' || true
