"""Analyses: what a sync or a detection found, per table (`diffmig.analysis_tables`, counts
kept) and per key (`diffmig.analysis_keys`, deleted by the retention of old runs)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from orchestrator.bookkeeping.schema import SCHEMA

# The sync's changes of a batch of ranges, staged in its transaction (sync/apply.py).
CHANGES_TABLE = "pg_temp.diffmig_changes"


def start_analysis(conn: psycopg.Connection, run_id: int) -> int:
    """A new analysis of the mirror for `run_id`; returns its id."""
    row = conn.execute(
        f"insert into {SCHEMA}.analyses (run_id, basis) values (%s, 'mirror') "
        "returning analysis_id",
        (run_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def record_table(
    conn: psycopg.Connection,
    analysis_id: int,
    table: str,
    *,
    source_rows: int,
    new: int,
    modified: int,
    deleted: int,
    seconds: float,
) -> None:
    conn.execute(
        f"insert into {SCHEMA}.analysis_tables (analysis_id, table_name, source_rows, "
        "rows_new, rows_modified, rows_deleted, seconds) values (%s, %s, %s, %s, %s, %s, %s) "
        "on conflict (analysis_id, table_name) do update set source_rows = excluded.source_rows, "
        "rows_new = excluded.rows_new, rows_modified = excluded.rows_modified, "
        "rows_deleted = excluded.rows_deleted, seconds = excluded.seconds",
        (analysis_id, table, source_rows, new, modified, deleted, round(seconds, 3)),
    )


def keys_copy() -> sql.Composed:
    """The COPY that streams (analysis_id, table_name, legacy_id, change) rows into the keys."""
    return sql.SQL(
        "copy {} (analysis_id, table_name, legacy_id, change) from stdin (format binary)"
    ).format(sql.Identifier(SCHEMA, "analysis_keys"))


def count_keys(conn: psycopg.Connection, analysis_id: int, table: str, lo: int, hi: int) -> int:
    """The keys of `table` between `lo` and `hi` the analysis holds."""
    row = conn.execute(
        f"select count(*) from {SCHEMA}.analysis_keys where analysis_id = %s "
        "and table_name = %s and legacy_id between %s and %s",
        (analysis_id, table, lo, hi),
    ).fetchone()
    return int(row[0]) if row else 0


def record_changed_keys(conn: psycopg.Connection, analysis_id: int, table: str) -> None:
    """The new, modified and deleted keys staged in CHANGES_TABLE (rows rewritten with the same
    values are no change)."""
    conn.execute(
        f"insert into {SCHEMA}.analysis_keys (analysis_id, table_name, legacy_id, change) "
        f"select %s, %s, id, change from {CHANGES_TABLE} where change <> 'touched' "
        "on conflict do nothing",
        (analysis_id, table),
    )
