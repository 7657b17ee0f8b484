"""Retries: every transient failure a step recovered from, in `diffmig.retries`."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA


def record_retry(
    conn: psycopg.Connection, run_id: int | None, step: str, attempt: int, cause: str, sleep: float
) -> None:
    conn.execute(
        f"insert into {SCHEMA}.retries (run_id, step, attempt, cause, sleep_seconds) "
        "values (%s, %s, %s, %s, %s)",
        (run_id, step, attempt, cause, round(sleep, 2)),
    )


class RetryRecord(NamedTuple):
    step: str
    attempt: int
    cause: str
    at: datetime


def retries_of(conn: psycopg.Connection, run_id: int) -> list[RetryRecord]:
    return [
        RetryRecord(*r)
        for r in conn.execute(
            f"select step, attempt, cause, at from {SCHEMA}.retries where run_id = %s order by at",
            (run_id,),
        )
    ]
