"""The run's live progress (orchestrator/progress.py), rendered from the runner's events."""

from __future__ import annotations

import io
import re

from rich.console import Console

from orchestrator.console import JsonConsole, PlainConsole
from orchestrator.events import (
    BuildPhase,
    BuildProgress,
    EntityDone,
    RowIssuesCounted,
    SyncPhase,
    SyncProgress,
)
from orchestrator.progress import PlainRunView, RichRunView, Throughput, eta_text, run_view
from orchestrator.runlog import LoggedConsole, RunLog

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def rendered(view: RichRunView, stream: io.StringIO) -> str:
    view.progress.refresh()
    return ANSI.sub("", stream.getvalue())


def test_rich_bars_show_phase_rows_rate_and_eta() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    view = RichRunView(console)
    with view:
        view.handle(SyncPhase(run_id=1, entity="offices", tables=(), rows_total=None))
        assert "0/? rows" in rendered(view, stream)
        assert "ETA ?" in rendered(view, stream)
        view.phase_started["offices"] -= 2.0  # two seconds into the phase
        view.handle(
            SyncProgress(
                entity="offices",
                table="dispatch_office",
                rows_done=500,
                rows_total=1000,
                rows_changed=0,
            )
        )
        text = rendered(view, stream)
        assert "offices" in text
        assert "sync" in text
        assert "500/1,000 rows" in text
        assert re.search(r"2\d\d rows/s", text)
        assert re.search(r"ETA 0:00:0[1-3]", text)
        view.handle(BuildPhase(entity="offices", rows_synced=40, rows_total=40))
        view.handle(
            BuildProgress(
                entity="offices",
                node="stg",
                node_status="success",
                nodes_done=3,
                rows_done=None,
                rows_applied=None,
            )
        )
        assert "build, 3 nodes" in rendered(view, stream)
        view.handle(RowIssuesCounted(entity="offices", errors=2, warnings=1))
        view.handle(EntityDone(entity="offices", rows_applied=38, rows_synced=40, seconds=4.2))
        text = rendered(view, stream)
    assert "done in 4.2s" in text
    assert "40 synced, 38 applied" in text
    assert "2 rows held back" in text


def test_eta_is_honest() -> None:
    history = Throughput()
    assert eta_text("build", 0, None, 5.0, history) == "ETA ?"  # nothing expected known
    assert eta_text("build", 0, 100, 5.0, history) == "ETA ?"  # no throughput seen yet
    history.add("build", 50, 10.0)
    assert eta_text("build", 0, 100, 5.0, history) == "ETA ?"  # too few rows to extrapolate
    history.add("build", 99_950, 10.0)
    assert eta_text("build", 0, 50_000, 1.0, history) == "ETA ~0:00:10"
    assert eta_text("sync", 250, 1000, 5.0, history) == "ETA 0:00:15"
    assert eta_text("done", 1, 1, 1.0, history) == ""


def test_plain_and_json_consoles_keep_their_lines(tmp_path: object) -> None:
    err = io.StringIO()
    view = run_view(PlainConsole(out=io.StringIO(), err=err), "table")
    assert isinstance(view, PlainRunView)
    with view:
        view.handle(SyncPhase(entity="offices", tables=(), rows_total=None))
        view.handle(
            SyncProgress(entity="offices", table="t", rows_done=1, rows_total=1, rows_changed=0)
        )
        view.handle(EntityDone(entity="offices", rows_applied=2, rows_synced=3, seconds=1.0))
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("offices: sync")
    assert "3 rows synced, 2 applied" in lines[1]
    json_err = io.StringIO()
    assert isinstance(run_view(JsonConsole(out=io.StringIO(), err=json_err), "json"), PlainRunView)


def test_a_logged_rich_console_still_gets_bars(tmp_path: object) -> None:
    from pathlib import Path

    from orchestrator.console import RichConsole

    rich = RichConsole()
    log = RunLog.open("run", Path(str(tmp_path)))
    assert isinstance(run_view(LoggedConsole(rich, log), "table"), RichRunView)
    log.close()
