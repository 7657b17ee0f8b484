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

# Chromium and its WebDriver, for the browser tests (tests/integration/test_browser.py open the
# HTML report and the dbt docs site headless). Debian's packages: /usr/bin/chromium and
# /usr/bin/chromedriver (Ubuntu's chromium is a snap: set DIFFMIG_CHROMIUM / DIFFMIG_CHROMEDRIVER).
if [ -z "${DIFFMIG_CHROMIUM:-}" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing Chromium for the browser tests (apt-get install chromium chromium-driver)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "bootstrap: Chromium is missing; the browser tests will fail without it." >&2
        echo "  install it with: sudo apt-get install chromium chromium-driver   (Debian)" >&2
        echo "  or set DIFFMIG_CHROMIUM and DIFFMIG_CHROMEDRIVER to a Chromium and its chromedriver" >&2
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
