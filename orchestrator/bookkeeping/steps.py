"""A run's steps: one row per selected entity in `diffmig.run_steps`, its phase and figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA

# The columns of run_steps a run updates as an entity goes through its phases.
STEP_COLUMNS = frozenset(
    {
        "phase",
        "started_at",
        "finished_at",
        "target_rows_before",
        "target_rows_after",
        "rows_synced",
        "rows_new",
        "rows_modified",
        "rows_deleted",
        "rows_applied",
        "rows_held_back",
        "tests_run",
        "tests_failed",
        "sync_seconds",
        "build_seconds",
        "detail",
    }
)

StepValue = str | int | float | datetime | None


def done_entities(conn: psycopg.Connection, runs: list[int]) -> set[str]:
    """The entities any of `runs` finished (phase done)."""
    return {
        str(r[0])
        for r in conn.execute(
            f"select entity from {SCHEMA}.run_steps where run_id = any(%s) and phase = 'done'",
            (runs,),
        )
    }


def add_step(conn: psycopg.Connection, run_id: int, entity: str, position: int, phase: str) -> None:
    conn.execute(
        f"insert into {SCHEMA}.run_steps (run_id, entity, position, phase) values (%s, %s, %s, %s)",
        (run_id, entity, position, phase),
    )


def update_step(
    conn: psycopg.Connection, run_id: int, entity: str, columns: Mapping[str, StepValue]
) -> None:
    unknown = set(columns) - STEP_COLUMNS
    if unknown:
        raise ValueError(f"run_steps has no column {', '.join(sorted(unknown))}")
    sets = ", ".join(f"{k} = %s" for k in columns)
    conn.execute(
        f"update {SCHEMA}.run_steps set {sets} where run_id = %s and entity = %s",
        (*columns.values(), run_id, entity),
    )


def last_done(conn: psycopg.Connection) -> dict[str, datetime]:
    """Per entity, when a run last finished it."""
    return {
        str(entity): finished
        for entity, finished in conn.execute(
            f"select entity, max(finished_at) from {SCHEMA}.run_steps "
            "where phase = 'done' group by entity"
        ).fetchall()
    }


class StepRecord(NamedTuple):
    """An entity's step as the report shows it."""

    entity: str
    phase: str
    rows_synced: int | None
    rows_new: int | None
    rows_modified: int | None
    rows_deleted: int | None
    rows_applied: int | None
    rows_held_back: int | None
    target_rows_before: int | None
    target_rows_after: int | None
    sync_seconds: Decimal | float | None
    build_seconds: Decimal | float | None
    tests_run: int | None
    tests_failed: int | None
    detail: str | None


def step_records(conn: psycopg.Connection, run_id: int) -> list[StepRecord]:
    return [
        StepRecord(*r)
        for r in conn.execute(
            f"select entity, phase, rows_synced, rows_new, rows_modified, rows_deleted, "
            f"rows_applied, rows_held_back, target_rows_before, target_rows_after, "
            f"sync_seconds, build_seconds, tests_run, tests_failed, detail "
            f"from {SCHEMA}.run_steps where run_id = %s order by position",
            (run_id,),
        )
    ]


class StepProgress(NamedTuple):
    """An entity's step as `diffmig status` shows it (seconds so far, or in all)."""

    entity: str
    phase: str
    rows_synced: int
    rows_applied: int
    rows_held_back: int
    tests_failed: int
    seconds: Decimal | float | None
    detail: str | None


def step_progress(conn: psycopg.Connection, run_id: int) -> list[StepProgress]:
    return [
        StepProgress(*r)
        for r in conn.execute(
            f"select s.entity, s.phase, s.rows_synced, s.rows_applied, s.rows_held_back, "
            f"s.tests_failed, extract(epoch from coalesce(s.finished_at, now()) - s.started_at), "
            f"s.detail from {SCHEMA}.run_steps s where s.run_id = %s order by s.position",
            (run_id,),
        ).fetchall()
    ]
