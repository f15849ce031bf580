#!/usr/bin/env bash
# Benchmark (not a test): requests/s and latency straight to the simulator and through the relay,
# at concurrency 1 and 64, on this machine. The simulator answers with zero latency, so the
# difference is what the relay adds (selection, SQLite reservation, usage record, forwarding).
# Usage: scripts/bench.sh [seconds per run, default 10]. Prints a table to paste into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
duration="${1:-10}"

scripts/setup.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
swift build -c release --product keyrelay >/dev/null
binary="$(swift build -c release --show-bin-path)/keyrelay"

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
keys=$(for i in $(seq -w 1 20); do printf 'AIzaSyBENCH00000000000000000000000000%s,' "$i"; done)
keys="${keys%,}"
sim_port=18181
relay_port=18182

"$binary" simulate --listen "127.0.0.1:$sim_port" --keys "$keys" --latency-ms 0 >"$work/sim.log" 2>&1 &
KEYRELAY_API_KEYS="$keys" KEYRELAY_ALLOWED_TOKENS="bench:bench-token" \
    KEYRELAY_UPSTREAM_BASE_URL="http://127.0.0.1:$sim_port" KEYRELAY_DATABASE_URL="$work/bench.sqlite" \
    KEYRELAY_LISTEN="127.0.0.1:$relay_port" KEYRELAY_LOG_LEVEL=warning \
    "$binary" serve >"$work/relay.log" 2>&1 &
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$relay_port/health" >/dev/null && break; sleep 0.1; done

# Prints "requests/s p50_ms p99_ms" for one wrk run.
measure() {
    local url=$1 token=$2 connections=$3 threads=$4
    BENCH_TOKEN="$token" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s scripts/bench/post.lua "$url" \
        >"$work/wrk.out"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }
    ' "$work/wrk.out"
}

sim_key="${keys%%,*}"
printf '| concurrency | target | requests/s | p50 ms | p99 ms | non-2xx |\n|---:|---|---:|---:|---:|---:|\n'
for level in "1 1" "64 2"; do
    set -- $level
    read -r d_rps d_p50 d_p99 d_bad < <(measure "http://127.0.0.1:$sim_port" "$sim_key" "$1" "$2")
    # The simulator alone, then the relay in front of it (the simulator's per-key limits are unlimited).
    read -r r_rps r_p50 r_p99 r_bad < <(measure "http://127.0.0.1:$relay_port" "bench-token" "$1" "$2")
    printf '| %s | simulator | %s | %s | %s | %s |\n' "$1" "$d_rps" "$d_p50" "$d_p99" "$d_bad"
    printf '| %s | relay → simulator | %s | %s | %s | %s |\n' "$1" "$r_rps" "$r_p50" "$r_p99" "$r_bad"
    awk -v c="$1" -v a="$r_p50" -v b="$d_p50" -v x="$r_p99" -v y="$d_p99" \
        'BEGIN { printf "| %s | added by the relay | | %.3f | %.3f | |\n", c, a - b, x - y }'
done
