#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, then pytest against real PostgreSQL clusters
# that the tests start themselves. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check orchestrator tests
echo "== mypy"
.venv/bin/mypy
if compgen -G "models/**/*.sql" >/dev/null || ls models/*/*.sql >/dev/null 2>&1; then
    echo "== sqlfluff"
    .venv/bin/sqlfluff lint models snapshots tests/dbt analyses
fi
echo "== pytest"
.venv/bin/python -m pytest -m "not slow" "$@"
