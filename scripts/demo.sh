#!/usr/bin/env bash
# The main job on the local sandbox: set everything up, start the legacy and Supabase databases
# with generated data (as the earlier migration left them, then three weeks of legacy activity),
# then assess (baseline), find the differences (detect) and migrate them (run, which writes its
# report into reports/ and prints its path).
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
exec $diffmig --env-file "$env_file" run
