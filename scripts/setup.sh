#!/usr/bin/env bash
# Installs what KeyRelay needs on a Debian machine and that is missing: the C libraries it links
# (libmicrohttpd, libcurl, SQLite, libpq); with --test also PostgreSQL 15, Chromium (the key page
# test) and Python's venv for the SDK integration tests.
# The Swift toolchain itself must already be installed (it is not in Debian's archive).
set -euo pipefail

packages=(pkg-config libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(postgresql postgresql-contrib chromium)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ! python3 -m venv --help >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "setup: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "setup: the Swift 6 toolchain is required (https://www.swift.org/install/linux/)" >&2
    fi
    exit 1
fi
