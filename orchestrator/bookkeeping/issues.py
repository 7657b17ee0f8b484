"""Row issues: the rows a build held back (errors) or applied with a warning, per entity and
legacy key, in `diffmig.row_issues`. The builds write them (the record_row_issues post-hook, in
SQL); Python reads them here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA


class ReasonCount(NamedTuple):
    severity: str
    reason: str
    rows: int


class RowIssue(NamedTuple):
    legacy_key: str
    table: str | None
    severity: str
    reason: str
    detail: str | None


class IssueSummary(NamedTuple):
    """The open issues of one entity, severity and reason, with the first keys."""

    entity: str
    severity: str
    reason: str
    rows: int
    keys: list[str]


# The open warnings a reconcile acts on (the mapped models' open_issue_keys on reconcile): drift
# it applies, and target rows duplicating a legacy key it deletes (entity_pattern's
# duplicate_targets).
RECONCILED_REASONS = ("drift", "duplicate_target_rows")


def has_open_drift(conn: psycopg.Connection, entity: str) -> bool:
    """Whether the entity has open issues a reconcile acts on (RECONCILED_REASONS)."""
    row = conn.execute(
        f"select 1 from {SCHEMA}.row_issues where entity = %s and resolved_at is null "
        "and reason = any(%s) limit 1",
        (entity, list(RECONCILED_REASONS)),
    ).fetchone()
    return row is not None


def held_back(conn: psycopg.Connection, entity: str) -> int:
    """The entity's legacy keys with an open error: rows not applied."""
    row = conn.execute(
        f"select count(distinct legacy_key) from {SCHEMA}.row_issues where entity = %s "
        "and resolved_at is null and severity = 'error'",
        (entity,),
    ).fetchone()
    return int(row[0]) if row else 0


def counts_by_reason(conn: psycopg.Connection, run_id: int, entity: str) -> list[ReasonCount]:
    """The open issues `run_id` recorded for `entity`, counted per severity and reason."""
    return [
        ReasonCount(str(severity), str(reason), int(n))
        for severity, reason, n in conn.execute(
            f"select severity, reason, count(*) from {SCHEMA}.row_issues "
            "where run_id = %s and entity = %s and resolved_at is null "
            "group by severity, reason order by severity, reason",
            (run_id, entity),
        ).fetchall()
    ]


def stream_issues(
    conn: psycopg.Connection, run_id: int, entity: str, warnings_per_reason: int
) -> Iterator[RowIssue]:
    """Every open error `run_id` recorded for `entity` and the first `warnings_per_reason`
    warnings of each reason (by key), streamed through a server-side cursor: memory stays flat
    whatever the count."""
    with conn.transaction(), conn.cursor(name="diffmig_row_issues") as cursor:
        cursor.itersize = 2000
        cursor.execute(
            "select legacy_key, table_name, severity, reason, detail from ("
            "select legacy_key, table_name, severity, reason, detail, row_number() over "
            "(partition by severity, reason order by legacy_key) as rank_in_reason "
            f"from {SCHEMA}.row_issues "
            "where run_id = %s and entity = %s and resolved_at is null) as ranked "
            "where severity = 'error' or rank_in_reason <= %s "
            "order by severity, reason, legacy_key",
            (run_id, entity, warnings_per_reason),
        )
        for row in cursor:
            yield RowIssue(*row)


def open_issue_summary(conn: psycopg.Connection, keys_shown: int) -> list[IssueSummary]:
    """Every open issue, per entity, severity and reason, with its first `keys_shown` keys."""
    return [
        IssueSummary(str(e), str(sev), str(reason), int(n), list(keys))
        for e, sev, reason, n, keys in conn.execute(
            f"select entity, severity, reason, count(*), "
            f"(array_agg(legacy_key order by legacy_key))[1:{int(keys_shown)}] "
            f"from {SCHEMA}.row_issues where resolved_at is null "
            "group by 1, 2, 3 order by 1, 2, 4 desc"
        )
    ]
