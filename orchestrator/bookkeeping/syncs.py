"""Table syncs and their range checkpoints: `diffmig.table_syncs` (one row per table a run
syncs, with its ranges done and its counts) and `diffmig.checkpoints` (one row per key range
applied, written in the transaction that applied it: a resumed sync skips those ranges)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA


class RangeCounts(NamedTuple):
    """One applied key range and the changes it applied."""

    lo: int
    hi: int
    new: int
    modified: int
    deleted: int


def synced_by_other_run(
    conn: psycopg.Connection, chain: list[int], table: str, run_id: int
) -> bool:
    """Whether a run of `chain` other than `run_id` synced `table` to the end."""
    row = conn.execute(
        f"select 1 from {SCHEMA}.table_syncs where run_id = any(%s) and table_name = %s "
        "and status = 'succeeded' and run_id <> %s",
        (chain, table, run_id),
    ).fetchone()
    return row is not None


def start_table_sync(conn: psycopg.Connection, run_id: int, table: str, transport: str) -> None:
    conn.execute(
        f"insert into {SCHEMA}.table_syncs (run_id, table_name, transport) "
        "values (%s, %s, %s) on conflict (run_id, table_name) do update set "
        "status = 'running', error = null",
        (run_id, table, transport),
    )


def set_table_plan(
    conn: psycopg.Connection, run_id: int, table: str, ranges_total: int, source_rows: int
) -> None:
    conn.execute(
        f"update {SCHEMA}.table_syncs set ranges_total = %s, source_rows = %s "
        "where run_id = %s and table_name = %s",
        (ranges_total, source_rows, run_id, table),
    )


def finish_table_sync(conn: psycopg.Connection, run_id: int, table: str) -> None:
    conn.execute(
        f"update {SCHEMA}.table_syncs set status = 'succeeded', finished_at = now() "
        "where run_id = %s and table_name = %s",
        (run_id, table),
    )


def checkpointed_ranges(conn: psycopg.Connection, chain: list[int], table: str) -> set[int]:
    """The low keys of the ranges of `table` the runs of `chain` applied."""
    return {
        int(r[0])
        for r in conn.execute(
            f"select range_lo from {SCHEMA}.checkpoints where run_id = any(%s) and table_name = %s",
            (chain, table),
        )
    }


def record_checkpoints(
    conn: psycopg.Connection, run_id: int, table: str, ranges: Sequence[RangeCounts]
) -> None:
    """A checkpoint row per range, and the ranges' counts added to the table's sync: in the
    caller's transaction, the one that applied them."""
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into {SCHEMA}.checkpoints (run_id, table_name, range_lo, range_hi, "
            "rows_new, rows_modified, rows_deleted) values (%s, %s, %s, %s, %s, %s, %s)",
            [(run_id, table, r.lo, r.hi, r.new, r.modified, r.deleted) for r in ranges],
        )
    conn.execute(
        f"update {SCHEMA}.table_syncs set ranges_done = ranges_done + %s, "
        "rows_new = rows_new + %s, rows_modified = rows_modified + %s, "
        "rows_deleted = rows_deleted + %s where run_id = %s and table_name = %s",
        (
            len(ranges),
            sum(r.new for r in ranges),
            sum(r.modified for r in ranges),
            sum(r.deleted for r in ranges),
            run_id,
            table,
        ),
    )


def changed_tables(conn: psycopg.Connection, runs: list[int]) -> set[str]:
    """The tables with a new, modified or deleted row synced by any of `runs`."""
    return {
        str(r[0])
        for r in conn.execute(
            f"select table_name from {SCHEMA}.table_syncs where run_id = any(%s) "
            "and rows_new + rows_modified + rows_deleted > 0",
            (runs,),
        )
    }


class TableSyncProgress(NamedTuple):
    """A table's sync as `diffmig status` shows it (seconds so far, or in all)."""

    table: str
    status: str
    ranges_done: int
    ranges_total: int | None
    rows: int
    seconds: Decimal | float | None


def table_sync_progress(conn: psycopg.Connection, run_id: int) -> list[TableSyncProgress]:
    return [
        TableSyncProgress(*r)
        for r in conn.execute(
            f"select table_name, status, ranges_done, ranges_total, rows_new + rows_modified + "
            f"rows_deleted, extract(epoch from coalesce(finished_at, now()) - started_at) "
            f"from {SCHEMA}.table_syncs where run_id = %s order by started_at",
            (run_id,),
        ).fetchall()
    ]
