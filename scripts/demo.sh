#!/usr/bin/env bash
# The main job on the local sandbox: set everything up, start the legacy and Supabase databases
# with generated data (as the earlier migration left them, then weeks of legacy activity),
# and show where they stand. Extra arguments go to `diffmig sandbox up` (e.g. --scale 0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/diffmig sandbox up "$@"
