#!/usr/bin/env bash
# Measures every scenario and the ceilings against a fresh release server on one backend,
# as docs/BENCHMARKS.md reports them. Usage: bench/measure.sh sqlite|postgres OUT_DIR
# Environment: DURATION (10s), WARMUP (2s), CONNECTIONS (4), CONCURRENCY (32),
# VERIFY_USERS (2000: verification tokens prepared for verify-email).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?sqlite or postgres}
out=${2:?output directory}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-32}
verify_users=${VERIFY_USERS:-2000}
port=50061
mkdir -p "$out"
work=$(mktemp -d /tmp/identity-measure-XXXXXX)

case "$backend" in
    sqlite) url="sqlite://$work/identity.db?mode=rwc" ;;
    postgres)
        db="identity_bench_$(date +%s)"
        psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
        url="postgres://postgres@127.0.0.1:5432/$db" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
esac

cargo build --release -q -p identity -p identity-bench
started=$(date +%s.%N)
IDENTITY_GRPC_ADDR=127.0.0.1:$port IDENTITY_DATABASE_URL=$url IDENTITY_RATE_LIMITS=off \
IDENTITY_MAIL_DIR=$work/mail IDENTITY_DATA_DIR=$work/data IDENTITY_LOG_FORMAT=json \
IDENTITY_OUTBOX_POLL_INTERVAL_MS=50 \
    target/release/identity serve >"$out/server-$backend.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"
      [ -n "${db:-}" ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db" postgres' EXIT
until target/release/identity-bench health --target "http://127.0.0.1:$port" --duration 1ms \
        --warmup 0 --concurrency 1 --connections 1 --json 2>/dev/null | grep -q '"requests": [1-9]'; do
    sleep 0.05
done
echo "serving after $(awk "BEGIN{print $(date +%s.%N) - $started}") s" | tee "$out/start-$backend.txt"
ps -o rss= -p $server | awk '{print "idle RSS KiB", $1}' | tee -a "$out/start-$backend.txt"

bench() {
    local scenario=$1; shift
    target/release/identity-bench "$scenario" --target "http://127.0.0.1:$port" \
        --mail-dir "$work/mail" --duration "$duration" --warmup "${BENCH_WARMUP:-$warmup}" \
        --connections "$connections" --concurrency "$concurrency" --json "$@" \
        >"$out/$backend-$scenario.json"
    echo "$backend $scenario: $(grep -E '"requests_per_sec"|"limit_per_sec"' "$out/$backend-$scenario.json" | head -1)" \
        "server RSS KiB $(ps -o rss= -p "$server")"
}

bench echo
bench echo-verify
bench argon2
for scenario in health validate get-account refresh mixed login signup; do
    bench "$scenario"
done
BENCH_WARMUP=0 bench verify-email --users "$verify_users"
ps -o rss= -p $server | awk '{print "RSS after load KiB", $1}' | tee -a "$out/start-$backend.txt"
