#!/usr/bin/env bash
# Installs what a fresh machine lacks: PostgreSQL server binaries (Debian's packages, when run as
# root), a virtualenv in .venv with diffmig and its test and lint tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
    if [ -n "${DIFFMIG_PG_BINDIR:-}" ] && [ -x "$DIFFMIG_PG_BINDIR/initdb" ]; then return 0; fi
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing PostgreSQL server binaries (apt-get install postgresql)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "bootstrap: PostgreSQL server binaries (initdb, pg_ctl) are missing." >&2
        echo "  install them with: sudo apt-get install postgresql   (Debian/Ubuntu, version 15+)" >&2
        echo "  or set DIFFMIG_PG_BINDIR to the directory that holds initdb" >&2
        exit 3
    fi
fi

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "bootstrap: $PYTHON not found; install Python 3.10 or newer" >&2
    exit 3
fi
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.diffmig-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing diffmig and its tools into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test,lint]'
    touch "$stamp"
fi
