"""The structured log file and the run's progress events, against real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.reasons import FALLBACK_WHAT_TO_DO, describe
from orchestrator.runlog import RunLog, log_run_event
from orchestrator.runner import ROW_ISSUE_LOG_WARNINGS, MigrationRun, SyncTally
from orchestrator.settings import Settings, load_settings
from orchestrator.sync.engine import SyncEngine
from tests.conftest import DbPair


def settings_for(dbs: DbPair) -> Settings:
    return load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))


def passwords(dbs: DbPair) -> list[str]:
    pair = dbs.pair
    return [
        pair.legacy_app_password,
        pair.target_tool_password,
        pair.legacy.superuser_password,
        pair.target.superuser_password,
    ]


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_row_issues_of_an_entity_are_logged_with_their_keys(
    db_pair: DbPair, tmp_path: Path
) -> None:
    settings = settings_for(db_pair)
    with db_pair.target_tool() as conn:
        ensure_schema(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into diffmig.row_issues (run_id, entity, table_name, legacy_key, "
                "severity, reason, detail, resolved_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        42,
                        "orders",
                        "dispatch_instruction",
                        "101",
                        "error",
                        "missing_parent",
                        "case 9 unknown",
                        None,
                    ),
                    (
                        42,
                        "orders",
                        "dispatch_instruction",
                        "102",
                        "error",
                        "missing_parent",
                        None,
                        None,
                    ),
                    (
                        42,
                        "orders",
                        "dispatch_instruction",
                        "103",
                        "warning",
                        "blank_notes",
                        None,
                        None,
                    ),
                    (
                        42,
                        "orders",
                        "dispatch_instruction",
                        "104",
                        "error",
                        "missing_parent",
                        None,
                        "2026-01-01",
                    ),  # resolved: not an issue of this run any more
                    (
                        41,
                        "orders",
                        "dispatch_instruction",
                        "105",
                        "error",
                        "missing_parent",
                        None,
                        None,
                    ),  # another run's
                    (
                        42,
                        "payments",
                        "dispatch_payment",
                        "106",
                        "error",
                        "missing_parent",
                        None,
                        None,
                    ),  # another entity's
                ],
            )
            # More warnings of one reason than are logged key by key.
            conn.execute(
                "insert into diffmig.row_issues (run_id, entity, table_name, legacy_key, "
                "severity, reason) select 42, 'orders', 'dispatch_instruction', "
                "(100000 + n)::text, 'warning', 'drift' from generate_series(1, %s) as n",
                (ROW_ISSUE_LOG_WARNINGS + 7,),
            )
        conn.commit()
    log = RunLog.open("run", tmp_path)
    runner = MigrationRun(settings, events=lambda event: log_run_event(log, event))
    runner.run_id = 42
    try:
        runner._report_row_issues(42, "orders")
    finally:
        runner._close_db()
        log.close()

    text = log.path.read_text(encoding="utf-8")
    lines = records(log.path)
    drift = [r for r in lines if r["event"] == "row_issue" and r["reason"] == "drift"]
    assert len(drift) == ROW_ISSUE_LOG_WARNINGS  # the first ones by key, the rest counted
    assert drift[0]["legacy_key"] == "100001"
    omitted = [r for r in lines if r["event"] == "row_issues_omitted"]
    assert [(r["reason"], r["omitted"], r["level"]) for r in omitted] == [("drift", 7, "warning")]
    assert "7 more drift warnings not logged" in omitted[0]["message"]
    issues = [r for r in lines if r["event"] == "row_issue" and r["reason"] != "drift"]
    assert sorted(r["legacy_key"] for r in issues) == ["101", "102", "103"]
    for issue in issues:
        assert issue["entity"] == "orders"
        assert issue["run_id"] == 42
        assert issue["table"] == "dispatch_instruction"
        assert issue["legacy_key"] in issue["message"]
    assert {r["legacy_key"]: r["level"] for r in issues} == {
        "101": "error",
        "102": "error",
        "103": "warning",
    }
    summary = next(r for r in lines if r["event"] == "row_issues")
    assert (summary["errors"], summary["warnings"]) == (2, 1 + ROW_ISSUE_LOG_WARNINGS + 7)
    # One line per reason with its count and what to do (the issue catalogue; a reason it
    # lacks gets the fallback text).
    per_reason = {r["reason"]: r for r in lines if r["event"] == "row_issue_reason"}
    assert {reason: r["rows"] for reason, r in per_reason.items()} == {
        "missing_parent": 2,
        "blank_notes": 1,
        "drift": ROW_ISSUE_LOG_WARNINGS + 7,
    }
    assert per_reason["drift"]["what_to_do"] == describe("orders", "drift", "warning").what_to_do
    assert "diffmig run --reconcile" in per_reason["drift"]["message"]
    assert "2 rows held back (missing_parent)" in per_reason["missing_parent"]["message"]
    assert per_reason["missing_parent"]["what_to_do"] == FALLBACK_WHAT_TO_DO["error"]
    for secret in passwords(db_pair):
        assert secret not in text


def test_sync_progress_events_count_rows_against_the_source(db_pair: DbPair) -> None:
    settings = settings_for(db_pair)
    events: list[dict[str, Any]] = []
    runner = MigrationRun(settings, events=lambda event: events.append(event.as_dict()))
    runner._sync_state = SyncTally(entity="offices")
    SyncEngine(settings, progress=runner._sync_progress).run(tables=["dispatch_office"])
    with db_pair.legacy_app() as conn:
        row = conn.execute("select count(*) from dispatch_office").fetchone()
    assert row is not None
    progress = [e for e in events if e["kind"] == "progress"]
    assert progress
    assert all(e["entity"] == "offices" and e["phase"] == "sync" for e in progress)
    assert progress[-1]["rows_total"] == row[0]
    assert progress[-1]["rows_done"] == row[0]
    assert progress[-1]["rows_changed"] == row[0]  # a first sync: every row is new


def test_cli_writes_its_log_where_it_says(db_pair: DbPair, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "detect", "--tables", "dispatch_office"],
        env={**os.environ, **db_pair.env(), "DIFFMIG_LOG_DIR": str(logs)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    [path] = list(logs.glob("diffmig-detect-*.jsonl"))
    assert f"log: {path}" in proc.stderr.splitlines()[0]
    lines = records(path)
    events = [r["event"] for r in lines]
    assert events[0] == "command_started"
    assert "result" in events
    assert events[-1] == "command_finished"
    result = next(r for r in lines if r["event"] == "result")["result"]
    assert result["tables"][0]["table"] == "dispatch_office"
    text = path.read_text(encoding="utf-8")
    for secret in passwords(db_pair):
        assert secret not in text
