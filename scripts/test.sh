#!/usr/bin/env bash
# One command from a fresh Debian machine to a full test run: installs missing system packages,
# builds, runs the Swift test suites (unit, store, live sockets), then the integration tests
# that drive the relay with the official google-genai Python SDK against the simulator, and the
# multi-instance tests on a throwaway PostgreSQL. Both test
# runs get a throwaway PostgreSQL (scripts/with-postgres.sh), so the PostgreSQL store is tested too.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

scripts/setup.sh --test
swift build --build-tests
scripts/with-postgres.sh swift test --skip-build

venv=.build/venv
# (Re)install the SDKs when the requirements changed since the venv was last filled.
if [[ ! -x "$venv/bin/pytest" || Tests/Integration/requirements.txt -nt "$venv/.installed" ]]; then
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r Tests/Integration/requirements.txt
    touch "$venv/.installed"
fi
# The SDK tests, then the fleet tests (several relay processes on one PostgreSQL, including a
# database outage), against the real binary.
# Two runs (each folder has a conftest of its own) on one throwaway PostgreSQL.
export KEYRELAY_BINARY="$(swift build --show-bin-path)/keyrelay" VENV="$venv"
scripts/with-postgres.sh bash -c '"$VENV/bin/pytest" -q Tests/Integration && "$VENV/bin/pytest" -q Tests/Fleet'

