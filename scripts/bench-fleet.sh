#!/usr/bin/env bash
# Benchmark (not a test): the relay on PostgreSQL, as one instance and as a fleet of three, in front
# of the simulator (zero latency), on a throwaway PostgreSQL 15 (scripts/with-postgres.sh). Prints
# requests/s, reservations/s (read from key_usage, so every one is a committed reservation) and
# the p50/p99 latency per request, and what the relay adds over the simulator alone at the same
# concurrency, at concurrency 1 and 64:
#   - 1 relay: one wrk against it;
#   - 3 relays: three wrk processes at once, one per instance (3×1 and 3×21 connections);
#     requests/s and reservations/s are the fleet's total, p50/p99 those of the slowest instance;
#   - 3 relays through nginx (docker/nginx.conf with this run's ports), when nginx is installed.
# Everything (load generator, simulator, relays, PostgreSQL) shares this machine's cores, so the
# figures compare setups on one machine; they are not a capacity plan.
# Usage: scripts/bench-fleet.sh [seconds per run, default 10]. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
duration="${1:-10}"

if [[ -z "${BENCH_FLEET_INNER:-}" ]]; then
    scripts/setup.sh --test
    command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
    swift build -c release --product keyrelay >/dev/null
    export BENCH_FLEET_INNER=1 KEYRELAY_BINARY="$(swift build -c release --show-bin-path)/keyrelay"
    exec scripts/with-postgres.sh "$0" "$@"
fi

binary="$KEYRELAY_BINARY"
server_url="$KEYRELAY_TEST_DATABASE_URL"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
new_database() {
    local name="kr_bench_$1"
    sql "$server_url" "CREATE DATABASE $name" >/dev/null
    printf '%s/%s\n' "${server_url%/*}" "$name"
}
wait_ready() {
    for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "bench-fleet: $1 not ready; logs in $work" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
}

keys=$(for i in $(seq -w 1 20); do printf 'AIzaSyBENCH00000000000000000000000000%s,' "$i"; done)
keys="${keys%,}"
sim_port="$(free_port)"
"$binary" simulate --listen "127.0.0.1:$sim_port" --keys "$keys" --latency-ms 0 >"$work/sim.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$sim_port/simulator/stats"

# Starts one relay on database $1; sets relay_port and relay_pid (no subshell, so the relay stays
# a job of this script and is stopped with the rest).
start_relay() {
    relay_port="$(free_port)"
    KEYRELAY_API_KEYS="$keys" KEYRELAY_ALLOWED_TOKENS="bench:bench-token" \
        KEYRELAY_UPSTREAM_BASE_URL="http://127.0.0.1:$sim_port" KEYRELAY_DATABASE_URL="$1" \
        KEYRELAY_LISTEN="127.0.0.1:$relay_port" KEYRELAY_LOG_LEVEL=warning \
        "$binary" serve >"$work/relay-$relay_port.log" 2>&1 &
    relay_pid=$!
    pids+=("$relay_pid")
}

# One wrk run into file $5: url, token, connections, threads.
wrk_run() {
    BENCH_TOKEN="$2" wrk -t"$4" -c"$3" -d"${duration}s" --latency -s scripts/bench/post.lua "$1" >"$5"
}
# "requests/s p50_ms p99_ms non2xx" summed (requests/s, non-2xx) or worst (p50, p99) over files.
summarise() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /s$/) return v * 1000
            return v
        }
        /Requests\/sec/ { rps += $2 }
        /^ +50%/ { v = ms($2); if (v > p50) p50 = v }
        /^ +99%/ { v = ms($2); if (v > p99) p99 = v }
        /Non-2xx/ { bad += $NF }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }
    ' "$@"
}
# Runs wrk against every URL at once with $connections each; prints the summary.
measure() {
    local token=$1 connections=$2 threads=$3
    shift 3
    local files=() runs=() i=0 url run
    for url in "$@"; do
        wrk_run "$url" "$token" "$connections" "$threads" "$work/wrk.$i" &
        runs+=($!)
        files+=("$work/wrk.$i")
        i=$((i + 1))
    done
    for run in "${runs[@]}"; do wait "$run"; done
    summarise "${files[@]}"
}
reservations() { sql "$1" "SELECT coalesce(sum(rpd), 0) FROM key_usage"; }

sim_key="${keys%%,*}"
rows=()
added_c1=""
# One table row pair: label, connections per target, wrk threads, database, relay URLs...
bench() {
    local label=$1 connections=$2 threads=$3 database=$4
    shift 4
    local sim_urls=() _
    for _ in "$@"; do sim_urls+=("http://127.0.0.1:$sim_port"); done
    read -r d_rps d_p50 d_p99 d_bad < <(measure "$sim_key" "$connections" "$threads" "${sim_urls[@]}")
    local before after
    before="$(reservations "$database")"
    read -r r_rps r_p50 r_p99 r_bad < <(measure "bench-token" "$connections" "$threads" "$@")
    after="$(reservations "$database")"
    local res_rate added_p50 added_p99
    res_rate=$(awk -v a="$after" -v b="$before" -v d="$duration" 'BEGIN { printf "%.0f", (a - b) / d }')
    added_p50=$(awk -v a="$r_p50" -v b="$d_p50" 'BEGIN { printf "%.3f", a - b }')
    added_p99=$(awk -v a="$r_p99" -v b="$d_p99" 'BEGIN { printf "%.3f", a - b }')
    rows+=("| $label | simulator alone | $d_rps | | $d_p50 | $d_p99 | | | $d_bad |")
    rows+=("| $label | relay → simulator | $r_rps | $res_rate | $r_p50 | $r_p99 | $added_p50 | $added_p99 | $r_bad |")
    if [[ "$label" == "1 relay, c=1" ]]; then added_c1="$added_p50"; fi
}

# One instance.
db1="$(new_database one)"
start_relay "$db1"
port1=$relay_port
single_pid=$relay_pid
wait_ready "http://127.0.0.1:$port1/health"
bench "1 relay, c=1" 1 1 "$db1" "http://127.0.0.1:$port1"
bench "1 relay, c=64" 64 2 "$db1" "http://127.0.0.1:$port1"
kill -TERM "$single_pid" && wait "$single_pid" || true

# Three instances on one database, started together.
db3="$(new_database three)"
ports=()
for _ in 1 2 3; do
    start_relay "$db3"
    ports+=("$relay_port")
done
for port in "${ports[@]}"; do wait_ready "http://127.0.0.1:$port/health"; done
urls=()
for port in "${ports[@]}"; do urls+=("http://127.0.0.1:$port"); done
bench "3 relays, c=3×1" 1 1 "$db3" "${urls[@]}"
bench "3 relays, c=3×21" 21 1 "$db3" "${urls[@]}"

# The same three behind nginx with the fleet's configuration, rewritten to this run's ports.
if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
    lb_port="$(free_port)"
    sed -e "s/127[.]0[.]0[.]1:8001/127.0.0.1:${ports[0]}/" -e "s/127[.]0[.]0[.]1:8002/127.0.0.1:${ports[1]}/" \
        -e "s/127[.]0[.]0[.]1:8003/127.0.0.1:${ports[2]}/" \
        -e "s/listen 127[.]0[.]0[.]1:8000/listen 127.0.0.1:$lb_port/" \
        docker/nginx.conf >"$work/nginx.conf"
    "$(command -v nginx || echo /usr/sbin/nginx)" -p "$work/" -c "$work/nginx.conf" -g 'daemon off;' \
        >"$work/nginx.log" 2>&1 &
    pids+=($!)
    wait_ready "http://127.0.0.1:$lb_port/health"
    bench "3 relays via nginx, c=1" 1 1 "$db3" "http://127.0.0.1:$lb_port"
    bench "3 relays via nginx, c=64" 64 2 "$db3" "http://127.0.0.1:$lb_port"
fi

echo
echo "PostgreSQL 15 (fsync off, as in the tests), $(nproc) cores shared by wrk, simulator, relays and"
echo "the database; ${duration} s per run. Fleet rows: totals of the instances, latency of the slowest."
echo
printf '| setup | target | requests/s | reservations/s | p50 ms | p99 ms | added p50 ms | added p99 ms | non-2xx |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
printf '%s\n' "${rows[@]}"
echo
awk -v a="$added_c1" 'BEGIN {
    printf "target: added p50 at concurrency 1 (1 relay) < 1.5 ms: %s (%.3f ms)\n", (a < 1.5 ? "met" : "NOT met"), a
}'
