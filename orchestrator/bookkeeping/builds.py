"""Build results: one row per dbt node an entity's build ran (`diffmig.build_results`). The
digests of delta builds (`diffmig.build_digests`) are written and read by the models' SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA


class BuiltNode(Protocol):
    """What a build says of one node (dbt_runner.NodeResult)."""

    @property
    def name(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def rows_affected(self) -> int | None: ...
    @property
    def failures(self) -> int | None: ...
    @property
    def seconds(self) -> float: ...
    @property
    def message(self) -> str: ...


def record_results(
    conn: psycopg.Connection, run_id: int, entity: str, nodes: Sequence[BuiltNode]
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into {SCHEMA}.build_results (run_id, entity, node, resource_type, "
            "status, rows_affected, failures, seconds, message) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (run_id, entity, node) do update "
            "set status = excluded.status, rows_affected = excluded.rows_affected, "
            "failures = excluded.failures, seconds = excluded.seconds, message = excluded.message",
            [
                (
                    run_id,
                    entity,
                    n.name,
                    n.resource_type,
                    n.status,
                    n.rows_affected,
                    n.failures,
                    round(n.seconds, 3),
                    n.message[:2000],
                )
                for n in nodes
            ],
        )


class FlaggedTest(NamedTuple):
    entity: str
    test: str
    status: str
    failures: int | None
    message: str | None


def flagged_tests(conn: psycopg.Connection, run_id: int) -> list[FlaggedTest]:
    """The tests of `run_id` that failed, erred or warned."""
    return [
        FlaggedTest(*r)
        for r in conn.execute(
            f"select entity, node, status, failures, message from {SCHEMA}.build_results "
            "where run_id = %s and resource_type like '%%test%%' "
            "and status in ('fail', 'error', 'warn') order by entity, node",
            (run_id,),
        )
    ]


def tests_passed(conn: psycopg.Connection, run_id: int) -> int:
    row = conn.execute(
        f"select count(*) from {SCHEMA}.build_results where run_id = %s "
        "and resource_type like '%%test%%' and status = 'pass'",
        (run_id,),
    ).fetchone()
    return int(row[0]) if row else 0
