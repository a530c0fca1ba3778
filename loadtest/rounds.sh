#!/usr/bin/env bash
# Alternates a ceiling with scenarios against one fresh release server, so each ratio is
# taken against a ceiling measured seconds before it; this VM's ceilings drift by a
# quarter between runs. Prints one line per round, then the server's session-lookup
# counters. Usage: loadtest/rounds.sh sqlite|postgres ROUNDS CEILING SCENARIO...
# e.g. loadtest/rounds.sh postgres 3 echo-verify validate get-account
#      loadtest/rounds.sh sqlite 3 argon2 login signup   (the limit is cores ÷ one verify)
# Environment: DURATION (5s), WARMUP (1s), CONNECTIONS (4), CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?sqlite or postgres}
rounds=${2:?number of rounds}
ceiling=${3:?ceiling scenario: echo or echo-verify}
shift 3
source loadtest/server.sh
start_server "$backend" "$(mktemp /tmp/identity-rounds-XXXXXX.log)"

# One scenario's JSON report into $work/round.json.
run() {
    against_server "$1" --duration "${DURATION:-5s}" --warmup "${WARMUP:-1s}" \
        --connections "${CONNECTIONS:-4}" --concurrency "${CONCURRENCY:-32}" --json >"$work/round.json"
}

field() {
    sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$work/round.json"
}

ratio() {
    awk "BEGIN{printf \"%.2f\", $1/$2}"
}

for round in $(seq "$rounds"); do
    run "$ceiling"
    if [ "$ceiling" = argon2 ]; then
        # The limit is cores ÷ one verify; beside it, what that many threads hashing at
        # once really did in the same run, which this VM's shared cores keep below it.
        limit=$(field limit_per_sec)
        all_cores=$(field measured_all_cores_per_sec)
        line="$backend round $round: argon2 $(printf %.0f "$limit")/s, $(printf %.0f "$all_cores")/s on all cores at once"
    else
        limit=$(field requests_per_sec)
        line="$backend round $round: $ceiling $(printf %.0f "$limit")/s"
    fi
    for scenario in "$@"; do
        run "$scenario"
        rate=$(field requests_per_sec)
        line+=", $scenario $(printf %.0f "$rate")/s ($(ratio "$rate" "$limit") ×"
        [ "$ceiling" = argon2 ] && line+="; $(ratio "$rate" "$all_cores") × all cores"
        line+=")"
    done
    echo "$line"
done
curl -s "$metrics" | grep '^identity_session_lookup' || true
