#!/usr/bin/env bash
# rounds.sh with h2load (Debian's nghttp2-client) as the client: identity-bench only
# prepares each request (`--h2load-body`: an account's session, the gRPC-framed body, one
# checked call) and serves the ceilings; h2load sends the load on one thread, so the
# client takes less of the two cores than identity-bench's own loop does.
# Usage: loadtest/h2load.sh sqlite|postgres ROUNDS CEILING SCENARIO...
# e.g.   loadtest/h2load.sh postgres 3 echo-verify validate check-permission check
#        loadtest/h2load.sh sqlite 3 echo health get-jwks
# Environment: DURATION (5, seconds), WARMUP (1), CONNECTIONS (4), CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client" >&2; exit 1; }

backend=${1:?sqlite or postgres}
rounds=${2:?number of rounds}
ceiling=${3:?ceiling scenario: echo or echo-verify}
shift 3
source loadtest/server.sh
start_server "$backend" "$(mktemp /tmp/identity-h2load-XXXXXX.log)"
connections=${CONNECTIONS:-4}
streams=$(( ${CONCURRENCY:-32} / connections ))

# Requests per second of h2load posting body file $1 to URL $2; fails unless every
# request got HTTP 200 (a gRPC error would too: --h2load-body checked the call once).
h2load_rate() {
    local out
    out=$(h2load -t 1 -c "$connections" -m "$streams" -D "${DURATION:-5}" --warm-up-time "${WARMUP:-1}" \
        -H 'content-type: application/grpc' -H 'te: trailers' -d "$1" "$2")
    grep -q ' 0 failed, 0 errored, 0 timeout' <<<"$out" || { echo "$out" >&2; return 1; }
    sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

ratio() {
    awk "BEGIN{printf \"%.2f\", $1/$2}"
}

body="$work/h2load-body.bin"
for round in $(seq "$rounds"); do
    target/release/identity-bench "$ceiling" --h2load-body "$body" >"$work/ceiling.url" &
    ceiling_pid=$!
    until [ -s "$work/ceiling.url" ]; do sleep 0.05; done
    limit=$(h2load_rate "$body" "$(cat "$work/ceiling.url")")
    kill "$ceiling_pid"; wait "$ceiling_pid" 2>/dev/null || true
    rm -f "$work/ceiling.url"
    line="$backend round $round (h2load): $ceiling $(printf %.0f "$limit")/s"
    for scenario in "$@"; do
        url=$(against_server "$scenario" --h2load-body "$body")
        rate=$(h2load_rate "$body" "$url")
        line+=", $scenario $(printf %.0f "$rate")/s ($(ratio "$rate" "$limit") ×)"
    done
    echo "$line"
done
