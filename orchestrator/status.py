"""What `diffmig status` shows: the current (or last) run's steps, read from the bookkeeping."""

from __future__ import annotations

from typing import Any

from orchestrator import db
from orchestrator.bookkeeping import runs
from orchestrator.bookkeeping import schema as bookkeeping
from orchestrator.bookkeeping.steps import step_progress
from orchestrator.bookkeeping.syncs import table_sync_progress
from orchestrator.settings import Settings


def read_status(settings: Settings) -> dict[str, Any]:
    with db.connection(settings.target) as conn:
        bookkeeping.ensure_schema(conn)
        run = runs.current_run(conn)
        if run is None:
            return {"run": None, "steps": []}
        run_id = run.run_id
        steps = step_progress(conn, run_id)
        tables = table_sync_progress(conn, run_id)
    step_rows = []
    for entity, phase, synced, applied, held, tests_failed, seconds, detail in steps:
        seconds = float(seconds or 0.0)
        rate = round((synced + applied) / seconds) if seconds > 0 else None
        step_rows.append(
            {
                "entity": entity,
                "phase": phase,
                "rows_synced": synced,
                "rows_applied": applied,
                "rows_held_back": held,
                "tests_failed": tests_failed,
                "seconds": round(seconds, 1),
                "rows_per_s": rate,
                "eta": None,
                "detail": detail,
            }
        )
    table_rows = []
    for table, status, done, total, rows, seconds in tables:
        seconds = float(seconds or 0.0)
        eta = None
        if status == "running" and done and total and seconds > 0:
            eta = round(seconds / done * (total - done), 1)
        table_rows.append(
            {
                "table": table,
                "status": status,
                "ranges_done": done,
                "ranges_total": total,
                "rows": rows,
                "seconds": round(seconds, 1),
                "eta_s": eta,
            }
        )
    # A running entity's ETA is its running table sync's ETA (the build phase has none).
    running_eta = next((t["eta_s"] for t in table_rows if t["eta_s"] is not None), None)
    for step in step_rows:
        if step["phase"] == "sync":
            step["eta"] = f"{running_eta}s" if running_eta is not None else None
    return {
        "run": {
            "run_id": run_id,
            "command": run.command,
            "mode": run.mode,
            "status": run.status,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "error": run.error,
        },
        "steps": step_rows,
        "tables": table_rows,
    }
