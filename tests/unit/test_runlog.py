"""The structured log file (orchestrator/runlog.py): JSON lines, redacted, ended properly."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from orchestrator.console import PlainConsole
from orchestrator.events import RowIssueFound, RowIssueReasonCounted
from orchestrator.reasons import describe
from orchestrator.runlog import LoggedConsole, RunLog, log_run_event, record_failure
from orchestrator.settings import Secret

PASSWORD = "RunLogSecret-8f2d1c"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_line_is_json_with_ts_level_event(tmp_path: Path) -> None:
    log = RunLog.open("run", tmp_path)
    log.write("info", "phase", None, run_id=3, entity="offices", phase="sync")
    log_run_event(
        log,
        RowIssueFound(
            run_id=3,
            entity="orders",
            table="dispatch_instruction",
            legacy_key="4711",
            severity="error",
            reason="missing_parent",
            detail=None,
        ),
    )
    log.close()
    assert log.path.parent == tmp_path
    assert log.path.name.startswith("diffmig-run-")
    assert log.path.suffix == ".jsonl"
    records = lines(log.path)
    assert [r["event"] for r in records] == ["phase", "row_issue", "command_finished"]
    for record in records:
        assert record["ts"].endswith("Z")
        assert "T" in record["ts"]
        assert record["level"] in ("debug", "info", "warning", "error")
    issue = records[1]
    assert issue["level"] == "error"
    assert (issue["entity"], issue["legacy_key"], issue["run_id"]) == ("orders", "4711", 3)
    assert "detail" not in issue  # None fields are left out


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    Secret(PASSWORD)  # registered with redact()
    log = RunLog.open("sync", tmp_path)
    out, err = io.StringIO(), io.StringIO()
    console = LoggedConsole(PlainConsole(out=out, err=err), log)
    console.info(f"connecting with password={PASSWORD}")
    console.warn(f"postgresql://postgres:{PASSWORD}@db:5432/postgres")
    console.table("t", ["a"], [(PASSWORD,)])
    console.result({"nested": {"list": [PASSWORD, 1, None]}})
    log.write("info", "x", None, detail=f"…{PASSWORD}…")
    record_failure(f"failed: {PASSWORD}", f"hint {PASSWORD}", 4)
    text = log.path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    records = lines(log.path)
    assert records[-1]["event"] == "command_failed"
    assert records[-1]["exit_code"] == 4
    assert "command_finished" not in [r["event"] for r in records]


def test_two_logs_in_the_same_second_get_their_own_files(tmp_path: Path) -> None:
    first, second = RunLog.open("detect", tmp_path), RunLog.open("detect", tmp_path)
    assert first.path != second.path
    first.close()
    second.close()


def test_a_line_per_reason_says_what_to_do(tmp_path: Path) -> None:
    log = RunLog.open("run", tmp_path)
    log_run_event(
        log,
        RowIssueReasonCounted(
            run_id=3,
            entity="orders",
            severity="error",
            reason="patient_not_migrated",
            rows=12,
            what_to_do=describe("orders", "patient_not_migrated", "error").what_to_do,
        ),
    )
    log.close()
    [line] = [r for r in lines(log.path) if r["event"] == "row_issue_reason"]
    assert line["level"] == "warning"
    assert (line["entity"], line["reason"], line["rows"]) == ("orders", "patient_not_migrated", 12)
    assert line["message"].startswith("orders: 12 rows held back (patient_not_migrated). ")
    assert "What to do: Nothing if the patient is on its way" in line["message"]
