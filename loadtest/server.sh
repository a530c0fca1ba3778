# Sourced by the bench scripts: builds the release binaries and starts a fresh server on
# one backend (a new SQLite file or a new PostgreSQL database), rate limits off, and
# stops it and drops its database on exit. After `start_server BACKEND LOG`: $port,
# $server (its pid), $work (its data and mail directory), $target, $metrics (its
# /metrics URL).
# Extra server settings can be passed in the environment (IDENTITY_*). SERVER_BIN runs
# another build of the server (an earlier commit's, say) against this identity-bench.

port=${PORT:-50061}
target="http://127.0.0.1:$port"
metrics_port=${METRICS_PORT:-9464}
metrics="http://127.0.0.1:$metrics_port/metrics"

start_server() {
    local backend=$1 log=$2 url
    work=$(mktemp -d /tmp/identity-bench-XXXXXX)
    case "$backend" in
        sqlite) url="sqlite://$work/identity.db?mode=rwc" ;;
        postgres)
            db="identity_bench_$(date +%s)"
            psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
            url="postgres://postgres@127.0.0.1:5432/$db" ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    cargo build --release -q -p identity -p identity-bench
    server_started=$(date +%s.%N)
    IDENTITY_GRPC_ADDR=127.0.0.1:$port IDENTITY_METRICS_ADDR=127.0.0.1:$metrics_port \
    IDENTITY_DATABASE_URL=$url IDENTITY_RATE_LIMITS=off \
    IDENTITY_MAIL_DIR=$work/mail IDENTITY_DATA_DIR=$work/data IDENTITY_LOG_FORMAT=json \
    IDENTITY_OUTBOX_POLL_INTERVAL_MS=50 \
        "${SERVER_BIN:-target/release/identity}" serve >"$log" 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"
          [ -n "${db:-}" ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db" postgres' EXIT
    until target/release/identity-bench health --target "$target" --duration 1ms \
            --warmup 0 --concurrency 1 --connections 1 --json 2>/dev/null | grep -q '"requests": [1-9]'; do
        sleep 0.05
    done
}

# identity-bench SCENARIO [OPTION...] against the started server, reading the verification
# tokens it needs from the server's mail directory.
against_server() {
    target/release/identity-bench "$1" --target "$target" --mail-dir "$work/mail" "${@:2}"
}

server_rss_kib() {
    ps -o rss= -p "$server" | tr -d ' '
}
