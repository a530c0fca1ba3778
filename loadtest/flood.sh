#!/usr/bin/env bash
# ValidateAccessToken and health alone, then again during a login flood, against a fresh
# release server on one backend: the isolation figures of docs/BENCHMARKS.md.
# Usage: loadtest/flood.sh sqlite|postgres OUT_DIR
# Environment: DURATION (5s per measurement); RATE (logins asked per second: by default
# twice the Argon2 limit that identity-bench argon2 measures first) and FLOOD (512 login
# tasks, enough to hold that pace while 66 wait in the server's pool and queue).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?sqlite or postgres}
out=${2:?output directory}
duration=${DURATION:-5s}
flood=${FLOOD:-512}
mkdir -p "$out"
source loadtest/server.sh
start_server "$backend" "$out/flood-server-$backend.log"

cheap() {
    local scenario=$1 label=$2 warmup=$3
    against_server "$scenario" --duration "$duration" --warmup "$warmup" \
        --connections 2 --concurrency 8 --users 8 --json \
        >"$out/flood-$backend-$scenario-$label.json"
}
summary() {
    python3 - "$@" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
latency = report["latency_micros"]
print(f"{sys.argv[2]:<28} {report['requests_per_sec']:>9.0f}/s  p50 {latency['p50'] / 1000:.2f} ms"
      f"  p99 {latency['p99'] / 1000:.2f} ms  errors {report['errors']}")
PY
}

limit=$(target/release/identity-bench argon2 --duration 3s --json | python3 -c 'import json, sys; print(round(json.load(sys.stdin)["limit_per_sec"]))')
rate=${RATE:-$(( limit * 2 ))}
echo "Argon2 limit ${limit}/s; flooding logins at ${rate}/s"

cheap validate alone 1s
cheap health alone 1s

# validate prepares its sessions (logins) before the flood starts, or they would queue
# behind it; its long warm-up covers the flood's own preparation (signing up its users).
cheap validate flood 6s &
validating=$!
sleep 1
against_server login --duration 20s --warmup 0s \
    --connections 4 --concurrency "$flood" --rate "$rate" --users 64 --json \
    >"$out/flood-$backend-login-flood.json" &
flooder=$!
wait $validating
cheap health flood 1s
wait $flooder

for file in validate-alone health-alone validate-flood health-flood login-flood; do
    summary "$out/flood-$backend-$file.json" "$backend $file"
done | tee "$out/flood-$backend.txt"
