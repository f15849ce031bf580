#!/usr/bin/env bash
# The docker-compose.yml topology as plain processes on this machine, all on 127.0.0.1:
#   PostgreSQL (throwaway, from scripts/with-postgres.sh) ← three `keyrelay serve` on 8001-8003
#   ← nginx on 8000 (docker/nginx.conf: least_conn, no buffering), and the Gemini simulator on
#   18080 as the upstream. Ctrl-C stops everything and deletes the database.
#
# Without KEYRELAY_API_KEYS it runs on simulated keys (client token 'demo-token', admin token
# 'demo-admin-token'). With KEYRELAY_API_KEYS and KEYRELAY_ALLOWED_TOKENS set it relays to
# KEYRELAY_UPSTREAM_BASE_URL (default Google) instead of the simulator. With KEYRELAY_DATABASE_URL
# set (postgres://…) it uses that database instead of a throwaway one. KEYRELAY_BINARY skips the
# build. Other KEYRELAY_* settings pass through to every relay.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

LB_PORT=8000
RELAY_PORTS=(8001 8002 8003)
SIM_PORT=18080

if [[ -z "${FLEET_INNER:-}" ]]; then
    scripts/setup.sh --test
    if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
        echo "fleet: installing nginx (Debian package)"
        sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
    fi
    if [[ -z "${KEYRELAY_BINARY:-}" ]]; then
        swift build -c release --product keyrelay
        KEYRELAY_BINARY="$(swift build -c release --show-bin-path)/keyrelay"
    fi
    for port in "$LB_PORT" "${RELAY_PORTS[@]}" "$SIM_PORT"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "fleet: 127.0.0.1:$port is already in use; stop what runs there first" >&2
            exit 1
        fi
    done
    export KEYRELAY_BINARY FLEET_INNER=1
    if [[ -n "${KEYRELAY_DATABASE_URL:-}" ]]; then
        exec "$0" "$@"
    fi
    # A throwaway server; with-postgres.sh stops it and deletes its files however this ends.
    unset KEYRELAY_TEST_DATABASE_URL
    exec scripts/with-postgres.sh "$0" "$@"
fi

binary="$KEYRELAY_BINARY"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
export KEYRELAY_DATABASE_URL="${KEYRELAY_DATABASE_URL:-$KEYRELAY_TEST_DATABASE_URL}"
work="$(mktemp -d "${TMPDIR:-/tmp}/keyrelay-fleet.XXXXXX")"
# nginx's workers run as an unprivileged user and need to reach their temp folders here.
chmod 755 "$work"

pids=()
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "fleet: stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
    local name=$1 url=$2 pid=$3
    for _ in $(seq 300); do
        curl -sf -o /dev/null "$url" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "fleet: $name exited; its log follows" >&2
            cat "$work/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "fleet: $name did not become ready at $url; its log follows" >&2
    cat "$work/$name.log" >&2
    exit 1
}

if [[ -z "${KEYRELAY_API_KEYS:-}" ]]; then
    keys=$(for i in 1 2 3 4 5 6; do printf 'AIzaSyFLEETDEMO0000000000000000000000%04d,' "$i"; done)
    export KEYRELAY_API_KEYS="${keys%,}"
    export KEYRELAY_ALLOWED_TOKENS="${KEYRELAY_ALLOWED_TOKENS:-demo:demo-token}"
    export KEYRELAY_ADMIN_TOKEN="${KEYRELAY_ADMIN_TOKEN:-demo-admin-token}"
    export KEYRELAY_UPSTREAM_BASE_URL="http://127.0.0.1:$SIM_PORT"
    "$binary" simulate --listen "127.0.0.1:$SIM_PORT" --keys "$KEYRELAY_API_KEYS" \
        --rpm 10 --rpd 500 --latency-ms 200 >"$work/simulator.log" 2>&1 &
    pids+=($!)
    wait_for simulator "http://127.0.0.1:$SIM_PORT/simulator/stats" "$!"
    demo=1
fi
export KEYRELAY_LOG_LEVEL="${KEYRELAY_LOG_LEVEL:-info}"

# The three start together: migrations run once under the advisory lock, settings seed once.
relay_pids=()
for index in 0 1 2; do
    KEYRELAY_LISTEN="127.0.0.1:${RELAY_PORTS[$index]}" "$binary" serve >"$work/relay$((index + 1)).log" 2>&1 &
    pids+=($!)
    relay_pids+=($!)
done
for index in 0 1 2; do
    wait_for "relay$((index + 1))" "http://127.0.0.1:${RELAY_PORTS[$index]}/health" "${relay_pids[$index]}"
done

"$nginx_bin" -p "$work/" -c "$PWD/docker/nginx.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$LB_PORT/health" && break
    sleep 0.1
done

database="${KEYRELAY_DATABASE_URL##*@}"
# The URL carries the database password: kept in a file only its owner reads, never printed.
(umask 077 && printf '%s\n' "$KEYRELAY_DATABASE_URL" >"$work/database_url")
cat <<EOF

fleet: running (logs in $work)
  load balancer  http://127.0.0.1:$LB_PORT      nginx, least_conn → relays     log: nginx.log
  relay1         http://127.0.0.1:${RELAY_PORTS[0]}      keyrelay serve (pid ${relay_pids[0]})         log: relay1.log
  relay2         http://127.0.0.1:${RELAY_PORTS[1]}      keyrelay serve (pid ${relay_pids[1]})         log: relay2.log
  relay3         http://127.0.0.1:${RELAY_PORTS[2]}      keyrelay serve (pid ${relay_pids[2]})         log: relay3.log
  PostgreSQL     $database   URL in $work/database_url
EOF
if [[ -n "${demo:-}" ]]; then
    cat <<EOF
  simulator      http://127.0.0.1:$SIM_PORT     6 simulated keys, 10 RPM each, 200 ms latency   log: simulator.log

Try:
  curl -s http://127.0.0.1:$LB_PORT/v1beta/models/gemini-2.5-flash:generateContent \\
    -H 'x-goog-api-key: demo-token' -H 'content-type: application/json' \\
    -d '{"contents":[{"parts":[{"text":"Hello"}]}]}'
  curl -s http://127.0.0.1:${RELAY_PORTS[1]}/admin/settings -H 'Authorization: Bearer demo-admin-token'
  psql "\$(cat $work/database_url)" -c "UPDATE settings SET value = '\"reject\"' WHERE name = 'exhausted_policy'"
  curl -s http://127.0.0.1:$SIM_PORT/simulator/stats
EOF
fi
echo
echo "Ctrl-C stops everything."

# Returns when any process ends (or on Ctrl-C); the EXIT trap stops the rest.
status=0
wait -n "${pids[@]}" || status=$?
echo "fleet: a process ended (exit status $status); the last lines of each log follow" >&2
for log in "$work"/*.log; do
    echo "--- $(basename "$log") (last lines)" >&2
    tail -n 5 "$log" >&2
done
exit 1
