"""The dbt mapping's cost next to a plain INSERT ... SELECT of the same rows.

On a pair of databases given by --env-file (a sandbox made with `diffmig sandbox up --scale 1.0
--activity-days 0`, say), it measures, in one invocation:
  (a) a plain `insert into <scratch table> select * from diffmig_staging.<table>` of every
      mirrored table, inside the destination (the floor for moving those rows once more);
  (b) `diffmig run --mode full` from the destination's current state (the full mapping);
  (c) `sandbox activity` (unless --skip-activity) then `diffmig run` (the delta mapping);
  (d) `diffmig run` again with nothing to do.
and prints each time with the ratios (b)/(a), (c)/(b) and (d)/(b). Run it from the project folder:

    .venv/bin/python -m benchmarks.mapping_benchmark --env-file .sandbox/sandbox.env
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from psycopg import sql

from orchestrator import db
from orchestrator.catalog import declared_tables
from orchestrator.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def diffmig(env_file: str, *args: str) -> tuple[float, dict]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--env-file", env_file, "--output", "json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1):
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"diffmig {' '.join(args)} failed with exit {result.returncode}")
    try:
        return seconds, json.loads(result.stdout or "{}")
    except ValueError:
        return seconds, {}


def plain_insert_select(env_file: str) -> tuple[float, int]:
    settings = load_settings(Path(env_file))
    rows = 0
    with db.connection(settings.target) as conn:
        conn.execute("drop schema if exists diffmig_bench cascade")
        conn.execute("create schema diffmig_bench")
        started = time.monotonic()
        for table in declared_tables():
            ident = sql.Identifier("diffmig_staging", table.name)
            conn.execute(
                sql.SQL("create table {} as select * from {} with no data").format(
                    sql.Identifier("diffmig_bench", table.name), ident
                )
            )
            cur = conn.execute(
                sql.SQL("insert into {} select * from {} where _deleted_at is null").format(
                    sql.Identifier("diffmig_bench", table.name), ident
                )
            )
            rows += cur.rowcount
        seconds = time.monotonic() - started
        conn.execute("drop schema diffmig_bench cascade")
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", required=True)
    parser.add_argument("--activity-days", type=int, default=7)
    parser.add_argument("--skip-activity", action="store_true")
    args = parser.parse_args()

    print("syncing the mirror first (so the mapping is measured on its own) ...", flush=True)
    sync_s, _ = diffmig(args.env_file, "sync")
    plain_s, plain_rows = plain_insert_select(args.env_file)
    full_s, full = diffmig(args.env_file, "run", "--mode", "full")
    delta_s = None
    if not args.skip_activity:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "sandbox",
                "activity",
                "--days",
                str(args.activity_days),
            ],
            cwd=Path(args.env_file).resolve().parent.parent,
            check=True,
            capture_output=True,
        )
        delta_s, _ = diffmig(args.env_file, "run")
    idle_s, _ = diffmig(args.env_file, "run")
    applied = sum(e.get("rows_applied", 0) for e in full.get("entities", []))
    print()
    print(f"mirror sync before the runs          {sync_s:8.1f} s")
    print(f"(a) plain INSERT ... SELECT          {plain_s:8.1f} s   {plain_rows:,} mirror rows")
    print(
        f"(b) diffmig run --mode full          {full_s:8.1f} s   {applied:,} target rows written   (b)/(a) = {full_s / plain_s:.2f}"
    )
    if delta_s is not None:
        print(
            f"(c) diffmig run after {args.activity_days} days        {delta_s:8.1f} s   (c)/(b) = {delta_s / full_s:.3f}"
        )
    print(f"(d) diffmig run, nothing to do       {idle_s:8.1f} s   (d)/(b) = {idle_s / full_s:.3f}")


if __name__ == "__main__":
    main()
