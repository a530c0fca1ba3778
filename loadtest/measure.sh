#!/usr/bin/env bash
# Measures every scenario and the ceilings against a fresh release server on one backend,
# as docs/BENCHMARKS.md reports them. Usage: loadtest/measure.sh sqlite|postgres OUT_DIR
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
mkdir -p "$out"
source loadtest/server.sh
start_server "$backend" "$out/server-$backend.log"
echo "serving after $(awk "BEGIN{print $(date +%s.%N) - $server_started}") s" | tee "$out/start-$backend.txt"
echo "idle RSS KiB $(server_rss_kib)" | tee -a "$out/start-$backend.txt"

bench() {
    local scenario=$1; shift
    against_server "$scenario" --duration "$duration" --warmup "${BENCH_WARMUP:-$warmup}" \
        --connections "$connections" --concurrency "$concurrency" --json "$@" \
        >"$out/$backend-$scenario.json"
    echo "$backend $scenario: $(grep -E '"requests_per_sec"|"limit_per_sec"' "$out/$backend-$scenario.json" | head -1)" \
        "server RSS KiB $(server_rss_kib)"
}

bench echo
bench echo-verify
bench argon2
for scenario in health get-jwks validate check get-account refresh mixed login signup; do
    bench "$scenario"
done
BENCH_WARMUP=0 bench verify-email --users "$verify_users"
echo "RSS after load KiB $(server_rss_kib)" | tee -a "$out/start-$backend.txt"
