#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, then pytest against real PostgreSQL clusters
# that the tests start themselves (sqlfluff with the dbt templater runs inside pytest, against
# them). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check orchestrator tests
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Two workers (one per core here), each with its own cluster pair; a module's tests stay on one;
# the longest modules start first (tests/conftest.py).
.venv/bin/python -m pytest -m "not slow" -n "${DIFFMIG_TEST_WORKERS:-2}" --dist loadfile \
    --no-loadscope-reorder \
    --durations=15 "$@"
