"""Runs: their records in `diffmig.runs`, the lock one command holds while it works, pauses,
resume chains and the retention applied when a run succeeds."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import psycopg

from orchestrator.bookkeeping.schema import LOCK_KEY, SCHEMA
from orchestrator.settings import DEFAULT_KEEP_RUNS


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
    conn: psycopg.Connection,
    run_id: int,
    status: str,
    error: str | None = None,
    *,
    transport: str | None = None,
    keep_runs: int = DEFAULT_KEEP_RUNS,
    schema_reloads: int | None = None,
) -> None:
    """Record a run's outcome (and the transport it ended up using, when told; and the
    schema-cache reloads counted while it worked, when measured)."""
    conn.execute(
        f"update {SCHEMA}.runs set status = %s, finished_at = now(), error = %s, "
        "schema_reloads = %s where run_id = %s",
        (status, error, schema_reloads, run_id),
    )
    if status == "succeeded":
        apply_retention(conn, run_id, keep_runs)
    if transport:
        conn.execute(
            f"update {SCHEMA}.runs set transport = %s where run_id = %s", (transport, run_id)
        )


# Retention of the bookkeeping that grows with every run (README, "Bookkeeping"), applied when a
# run succeeds: of the runs older than the DIFFMIG_KEEP_RUNS most recent ones (default 5), the
# keys behind their analyses (analysis_keys: a row per new, modified or deleted legacy key; the
# counts stay in analysis_tables) and their range checkpoints are deleted. A run still running,
# and the newest run of its command if it did not finish, keep theirs (a resume reads them). Runs, steps,
# issues, build results and retries are kept: they are the history the reports read.
def apply_retention(
    conn: psycopg.Connection, run_id: int, keep_runs: int = DEFAULT_KEEP_RUNS
) -> dict[str, int]:
    """Called when run `run_id` succeeds; returns the rows deleted per table."""
    old_runs = (
        f"select r.run_id from {SCHEMA}.runs r where r.run_id < %(run)s "
        f"and r.run_id not in (select run_id from {SCHEMA}.runs order by run_id desc "
        "limit %(keep)s) "
        "and r.status <> 'running' and (r.status = 'succeeded' or exists (select from "
        f"{SCHEMA}.runs n where n.command = r.command and n.run_id > r.run_id))"
    )
    params = {"run": run_id, "keep": max(1, keep_runs)}
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


def hold_run_lock(conn: psycopg.Connection, command: str) -> bool:
    """Take the lock a `command` holds for as long as it works (a session advisory lock: freed
    when its connection ends, kill -9 included). False when another process holds it."""
    row = conn.execute(
        "select pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_KEY & 0x7FFFFFFF, command)
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


def resume_chain(conn: psycopg.Connection, run_id: int, resumed_from: int | None) -> list[int]:
    """`run_id` followed by the runs it resumes, newest first (the chain a resume continues)."""
    chain = [run_id]
    current = resumed_from
    while current is not None:
        chain.append(current)
        row = conn.execute(
            f"select resumed_from from {SCHEMA}.runs where run_id = %s", (current,)
        ).fetchone()
        current = row[0] if row else None
    return chain


def request_pause(conn: psycopg.Connection) -> int | None:
    """Flag the running `diffmig run` to pause; its id, or None when none runs."""
    row = conn.execute(
        f"update {SCHEMA}.runs set pause_requested_at = now() where run_id = "
        f"(select max(run_id) from {SCHEMA}.runs where command = 'run' and status = 'running') "
        "returning run_id"
    ).fetchone()
    return int(row[0]) if row else None


def pause_requested(conn: psycopg.Connection, run_id: int) -> bool:
    row = conn.execute(
        f"select pause_requested_at from {SCHEMA}.runs where run_id = %s", (run_id,)
    ).fetchone()
    return bool(row and row[0] is not None)


def latest_run_id(conn: psycopg.Connection) -> int | None:
    row = conn.execute(f"select max(run_id) from {SCHEMA}.runs").fetchone()
    return int(row[0]) if row and row[0] is not None else None


class RunRecord(NamedTuple):
    """A run as the report shows it (`source` and `target` are descriptions, never DSNs)."""

    run_id: int
    command: str
    mode: str | None
    status: str
    transport: str | None
    source: str | None
    target: str | None
    invoked_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    resumed_from: int | None
    schema_reloads: int | None


def run_record(conn: psycopg.Connection, run_id: int) -> RunRecord | None:
    row = conn.execute(
        f"select run_id, command, mode, status, transport, source_desc, target_desc, "
        f"invoked_by, started_at, finished_at, error, resumed_from, schema_reloads "
        f"from {SCHEMA}.runs "
        "where run_id = %s",
        (run_id,),
    ).fetchone()
    return RunRecord(*row) if row else None


class RunState(NamedTuple):
    """The newest `run` or `sync`, as `diffmig status` shows it."""

    run_id: int
    command: str
    mode: str | None
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


def current_run(conn: psycopg.Connection) -> RunState | None:
    row = conn.execute(
        f"select run_id, command, mode, status, started_at, finished_at, error "
        f"from {SCHEMA}.runs where command in ('run', 'sync') order by run_id desc limit 1"
    ).fetchone()
    return RunState(*row) if row else None
