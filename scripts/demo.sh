#!/usr/bin/env bash
# The main job on the local sandbox: set everything up, start the legacy and Supabase databases
# with generated data (as the earlier migration left them, then three weeks of legacy activity),
# then assess (baseline), find the differences (detect), migrate them (run) and write the report.
# Extra arguments go to `diffmig sandbox up` (e.g. --scale 0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
diffmig=.venv/bin/diffmig
env_file=.sandbox/sandbox.env

$diffmig sandbox up "$@"
$diffmig --env-file "$env_file" baseline
$diffmig --env-file "$env_file" detect
# Exit code 1 means the run finished but some checks failed: the report says which.
status=0
$diffmig --env-file "$env_file" run || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    exit "$status"
fi
$diffmig --env-file "$env_file" --output json report > .sandbox/last-report.json
html=$(.venv/bin/python -c "import json; print(json.load(open('.sandbox/last-report.json'))['files']['html'])")
echo "report: $html"
exit "$status"
