#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 server on 127.0.0.1 and
# KEYRELAY_TEST_DATABASE_URL pointing at an empty database on it, then stops the server and
# deletes its files, however the command ends. With KEYRELAY_TEST_DATABASE_URL already set it
# only runs the command.
#
#   scripts/with-postgres.sh swift test --filter StorageTests
set -euo pipefail

if (($# == 0)); then
    echo "usage: scripts/with-postgres.sh COMMAND [ARG...]" >&2
    exit 64
fi
if [[ -n "${KEYRELAY_TEST_DATABASE_URL:-}" ]]; then
    exec "$@"
fi

bin="${KEYRELAY_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [[ ! -x "$bin/postgres" ]]; then
    echo "with-postgres: no PostgreSQL 15 in $bin (run scripts/setup.sh --test)" >&2
    exit 69
fi

# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user; the directory
# holds the data, the Unix socket and the log, and goes away with the trap.
root="$(mktemp -d "${TMPDIR:-/tmp}/keyrelay-pg.XXXXXX")"
as_postgres=()
if [[ "$(id -u)" == 0 ]]; then
    chown postgres:postgres "$root"
    as_postgres=(runuser -u postgres --)
fi
chmod 700 "$root"

stop() {
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$root/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

password="kr-test-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
"${as_postgres[@]}" "$bin/initdb" -D "$root/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 || {
    cat "$root/initdb.log" >&2
    exit 1
}

# Another process may take the port between choosing and binding it: try a few.
started=0
for _ in 1 2 3 4 5; do
    port="$(free_port)"
    if "${as_postgres[@]}" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c full_page_writes=off \
            -c max_connections=400 -c shared_buffers=32MB" start >/dev/null; then
        started=1
        break
    fi
done
if ((started == 0)); then
    echo "with-postgres: the server did not start; its log follows" >&2
    cat "$root/server.log" >&2 || true
    exit 1
fi

# The test role may create databases (one per test, so tests run in parallel), terminate its
# own backends (connection-loss tests) and create roles (so migration 0010 creates the dashboards'
# read-only role, which the view tests check); it is not a superuser.
"${as_postgres[@]}" "$bin/psql" -h "$root" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -v password="$password" >/dev/null <<'SQL'
CREATE ROLE keyrelay LOGIN CREATEDB CREATEROLE PASSWORD :'password';
CREATE DATABASE keyrelay_test OWNER keyrelay;
SQL

export KEYRELAY_TEST_DATABASE_URL="postgres://keyrelay:$password@127.0.0.1:$port/keyrelay_test"
# Outage tests stop and start this same server (same port and data) with these commands.
export KEYRELAY_TEST_PG_STOP="${as_postgres[*]} $bin/pg_ctl -D $root/data -m fast -w stop"
export KEYRELAY_TEST_PG_START="${as_postgres[*]} $bin/pg_ctl -D $root/data -l $root/server.log -w -t 30 \
start -o '-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c full_page_writes=off \
-c max_connections=400 -c shared_buffers=32MB'"
status=0
"$@" || status=$?
exit "$status"
