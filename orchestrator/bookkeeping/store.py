"""The bookkeeping store: versioned, idempotent DDL of the private schemas, and the records of
runs, table syncs, checkpoints, analyses and retries. One place for every bookkeeping write."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

DDL_DIR = Path(__file__).parent / "ddl"
SCHEMA = "diffmig"
STAGING_SCHEMA = "diffmig_staging"
_LOCK_KEY = 0x646966666D6967  # 'diffmig'


def _migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(DDL_DIR.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        found.append((version, path))
    return found


def ensure_schema(conn: psycopg.Connection) -> int:
    """Create or upgrade the private schemas; returns the schema version. Safe to call always,
    from concurrent processes (an advisory lock serialises them)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(f"create schema if not exists {SCHEMA}")
        conn.execute(
            f"create table if not exists {SCHEMA}.schema_version ("
            "version integer primary key, applied_at timestamptz not null default now())"
        )
        applied = {r[0] for r in conn.execute(f"select version from {SCHEMA}.schema_version")}
        for version, path in _migrations():
            if version in applied:
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute(f"insert into {SCHEMA}.schema_version (version) values (%s)", (version,))
        conn.execute(
            f"insert into {SCHEMA}.installation (namespace) values (%s) on conflict do nothing",
            (uuid.uuid4(),),
        )
        row = conn.execute(f"select max(version) from {SCHEMA}.schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@dataclass(frozen=True)
class Run:
    run_id: int
    command: str


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def start_run(
    conn: psycopg.Connection,
    command: str,
    *,
    mode: str | None = None,
    transport: str | None = None,
    source_desc: str | None = None,
    target_desc: str | None = None,
    resumed_from: int | None = None,
) -> Run:
    row = conn.execute(
        f"insert into {SCHEMA}.runs (command, mode, transport, source_desc, target_desc, "
        "invoked_by, resumed_from) values (%s, %s, %s, %s, %s, %s, %s) returning run_id",
        (command, mode, transport, source_desc, target_desc, who(), resumed_from),
    ).fetchone()
    assert row is not None
    return Run(run_id=int(row[0]), command=command)


def finish_run(
    conn: psycopg.Connection, run_id: int, status: str, error: str | None = None
) -> None:
    conn.execute(
        f"update {SCHEMA}.runs set status = %s, finished_at = now(), error = %s where run_id = %s",
        (status, error, run_id),
    )
    if status == "succeeded":
        apply_retention(conn, run_id)


# Retention of the bookkeeping that grows with every run (README, "Bookkeeping"), applied when a
# run succeeds: of the runs older than the DIFFMIG_KEEP_RUNS most recent ones (default 5), the
# keys behind their analyses (analysis_keys: a row per new, modified or deleted legacy key; the
# counts stay in analysis_tables) and their range checkpoints are deleted. A run still running,
# and the newest run of its command if it did not finish, keep theirs (a resume reads them). Runs, steps,
# issues, build results and retries are kept: they are the history the reports read.
DEFAULT_KEEP_RUNS = 5


def keep_runs() -> int:
    try:
        return max(1, int(os.environ.get("DIFFMIG_KEEP_RUNS", DEFAULT_KEEP_RUNS)))
    except ValueError:
        return DEFAULT_KEEP_RUNS


def apply_retention(conn: psycopg.Connection, run_id: int) -> dict[str, int]:
    """Called when run `run_id` succeeds; returns the rows deleted per table."""
    old_runs = (
        f"select r.run_id from {SCHEMA}.runs r where r.run_id < %(run)s "
        f"and r.run_id not in (select run_id from {SCHEMA}.runs order by run_id desc "
        "limit %(keep)s) "
        "and r.status <> 'running' and (r.status = 'succeeded' or exists (select from "
        f"{SCHEMA}.runs n where n.command = r.command and n.run_id > r.run_id))"
    )
    params = {"run": run_id, "keep": keep_runs()}
    keys = conn.execute(
        f"delete from {SCHEMA}.analysis_keys k using {SCHEMA}.analyses a "  # noqa: S608
        f"where k.analysis_id = a.analysis_id and a.run_id in ({old_runs})",
        params,
    ).rowcount
    checkpoints = conn.execute(
        f"delete from {SCHEMA}.checkpoints where run_id in ({old_runs})",  # noqa: S608
        params,
    ).rowcount
    return {"analysis_keys": keys, "checkpoints": checkpoints}


def record_retry(
    conn: psycopg.Connection, run_id: int | None, step: str, attempt: int, cause: str, sleep: float
) -> None:
    conn.execute(
        f"insert into {SCHEMA}.retries (run_id, step, attempt, cause, sleep_seconds) "
        "values (%s, %s, %s, %s, %s)",
        (run_id, step, attempt, cause, round(sleep, 2)),
    )


def hold_run_lock(conn: psycopg.Connection, command: str) -> bool:
    """Take the lock a `command` holds for as long as it works (a session advisory lock: freed
    when its connection ends, kill -9 included). False when another process holds it."""
    row = conn.execute(
        "select pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_KEY & 0x7FFFFFFF, command)
    ).fetchone()
    return bool(row and row[0])


def mark_dead_runs(conn: psycopg.Connection, command: str) -> list[int]:
    """Runs of `command` still marked running although this process holds the command's lock:
    they were killed or lost their connection before recording an outcome. Marked interrupted
    (they stay resumable)."""
    return [
        int(r[0])
        for r in conn.execute(
            f"update {SCHEMA}.runs set status = 'interrupted', "
            "finished_at = coalesce(finished_at, now()), error = coalesce(error, "
            "'stopped without recording an outcome (killed, or lost its connection)') "
            "where command = %s and status = 'running' returning run_id",
            (command,),
        )
    ]


def unfinished_run(conn: psycopg.Connection, command: str) -> int | None:
    """The newest run of `command` that did not succeed and was not resumed since, if any."""
    row = conn.execute(
        f"select r.run_id from {SCHEMA}.runs r where r.command = %s "
        "and r.status in ('running', 'failed', 'paused', 'interrupted') "
        f"and not exists (select from {SCHEMA}.runs n where n.resumed_from = r.run_id) "
        "and r.run_id = (select max(run_id) from diffmig.runs where command = %s)",
        (command, command),
    ).fetchone()
    return int(row[0]) if row else None


# The bookkeeping tables each build's row bookkeeping (the record_row_issues post-hook) joins
# with the rows it mapped. Their planner statistics must be current: with none for the 2 million
# drift warnings a first run records at scale 1.0, the next run's plan expected one open issue
# per entity, chose nested loops, and one post-hook ran for more than ten minutes instead of
# seconds. Autovacuum analyzes them eventually, not before the next build (and never after the
# statistics counters were reset by a crash or a restored copy of the database).
PLANNED_TABLES = ("row_issues", "entity_rows")
STALE_FRACTION = 0.1  # rows changed since the last ANALYZE, as a fraction of the table (10 %)
STALE_MIN_ROWS = 10_000


def refresh_statistics(conn: psycopg.Connection, *, always: bool) -> list[str]:
    """ANALYZE the PLANNED_TABLES (every one when `always`, as before a run's first build; else
    those with more than STALE_FRACTION of their rows changed since their last ANALYZE, as
    autovacuum would); returns the tables analyzed. 0.35 s at scale 1.0 for both."""
    stale = [
        str(r[0])
        for r in conn.execute(
            "select relname from pg_catalog.pg_stat_user_tables "
            "where schemaname = %s and relname = any(%s) and (%s or "
            "n_mod_since_analyze > greatest(%s, %s * n_live_tup)) order by relname",
            (SCHEMA, list(PLANNED_TABLES), always, STALE_MIN_ROWS, STALE_FRACTION),
        )
    ]
    for table in stale:
        conn.execute(f"analyze {SCHEMA}.{table}")
    return stale


def applied_entities(conn: psycopg.Connection) -> set[str]:
    """The entities some run has applied (built) at least once: those with a watermark. Empty
    when diffmig never ran against this destination (no bookkeeping schema yet)."""
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.entity_watermarks",)).fetchone()
    if not exists or exists[0] is None:
        return set()
    return {str(r[0]) for r in conn.execute(f"select entity from {SCHEMA}.entity_watermarks")}
