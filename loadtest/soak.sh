#!/usr/bin/env bash
# The soak of docs/BENCHMARKS.md: `mixed` for a long run against a fresh release server,
# with the server's RSS read every 30 s, so growth shows as a slope rather than a total.
# Usage: loadtest/soak.sh sqlite|postgres OUT_DIR
# Environment: DURATION (10m); CONCURRENCY (12 tasks, about 70 % of what saturates mixed).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?sqlite or postgres}
out=${2:?output directory}
mkdir -p "$out"
source loadtest/server.sh
start_server "$backend" "$out/soak-server-$backend.log"

echo "RSS at SERVING: $(server_rss_kib) KiB"
against_server mixed --duration "${DURATION:-10m}" --warmup 5s --connections 4 \
    --concurrency "${CONCURRENCY:-12}" >"$out/soak-$backend.txt" &
soaking=$!
elapsed=0
while sleep 30 && kill -0 "$soaking" 2>/dev/null; do
    elapsed=$((elapsed + 30))
    echo "RSS after ${elapsed}s: $(server_rss_kib) KiB"
done
wait "$soaking"
echo "RSS at the end: $(server_rss_kib) KiB"
cat "$out/soak-$backend.txt"
