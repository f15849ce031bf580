#!/usr/bin/env bash
# One command from a fresh Debian machine to a running relay on its embedded SQLite store:
# installs missing system packages, builds in release mode, then serves.
# With KEYRELAY_API_KEYS (and KEYRELAY_ALLOWED_TOKENS) set it runs `keyrelay serve`; without
# keys it runs `keyrelay demo`: the same relay in front of the built-in Gemini simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

scripts/setup.sh
swift build -c release --product keyrelay
binary="$(swift build -c release --show-bin-path)/keyrelay"

if [[ -n "${KEYRELAY_API_KEYS:-}" ]]; then
    exec "$binary" serve "$@"
fi
echo "run: KEYRELAY_API_KEYS is not set, so starting the demo (simulated upstream, token 'demo-token')"
exec "$binary" demo "$@"
