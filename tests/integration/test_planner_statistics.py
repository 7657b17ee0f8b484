"""Planner statistics of the bookkeeping tables a build's row bookkeeping joins with are current
when it reads them (schema.refresh_statistics, before each entity's build). The mapped tables a
build makes are analyzed by their post-hook: test_dbt_tests checks that one."""

from __future__ import annotations

import time

import psycopg

from orchestrator.bookkeeping import schema
from tests.conftest import DbPair

OPEN_ISSUES = 20_000


def open_issues_estimate(conn: psycopg.Connection, entity: str) -> float:
    plan = conn.execute(
        "explain (format json) select * from diffmig.row_issues "
        "where entity = %s and resolved_at is null",
        (entity,),
    ).fetchone()
    assert plan is not None
    return float(plan[0][0]["Plan"]["Plan Rows"])


def changes_counted(conn: psycopg.Connection, table: str, rows: int) -> None:
    """Wait until the cumulative statistics show the rows changed (a backend reports them
    shortly after its transaction ends)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        row = conn.execute(
            "select n_mod_since_analyze from pg_stat_user_tables "
            "where schemaname = 'diffmig' and relname = %s",
            (table,),
        ).fetchone()
        if row and row[0] >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"the {rows} rows written to diffmig.{table} were never counted")


def test_bookkeeping_statistics_are_refreshed_before_builds(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        conn.autocommit = True
        schema.ensure_schema(conn)
    with db_pair.target_admin() as admin:
        # Autovacuum must not analyze behind the test's back.
        for table in schema.PLANNED_TABLES:
            admin.execute(f"alter table diffmig.{table} set (autovacuum_enabled = false)")
    with db_pair.target_tool() as conn:
        conn.autocommit = True
        assert schema.refresh_statistics(conn, always=True) == sorted(schema.PLANNED_TABLES)
        # A first run's worth of drift warnings, recorded after those statistics were taken.
        conn.execute(
            "insert into diffmig.row_issues (entity, table_name, legacy_key, severity, reason) "
            "select 'pytest', 'pytest', k::text, 'warning', 'drift' "
            "from generate_series(1, %s) as k",
            (OPEN_ISSUES,),
        )
    with db_pair.target_tool() as conn:
        conn.autocommit = True
        changes_counted(conn, "row_issues", OPEN_ISSUES)
        assert open_issues_estimate(conn, "pytest") < 100  # what the nested loops were built on
        assert schema.refresh_statistics(conn, always=False) == ["row_issues"]
        assert open_issues_estimate(conn, "pytest") > OPEN_ISSUES / 2
        assert schema.refresh_statistics(conn, always=False) == []  # nothing changed since
