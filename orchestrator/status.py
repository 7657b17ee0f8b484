"""What `diffmig status` shows: the current (or last) run's steps, read from the bookkeeping."""

from __future__ import annotations

from typing import Any

from orchestrator import db
from orchestrator.bookkeeping import store
from orchestrator.bookkeeping.store import SCHEMA
from orchestrator.settings import Settings


def read_status(settings: Settings) -> dict[str, Any]:
    with db.connection(settings.target) as conn:
        store.ensure_schema(conn)
        run = conn.execute(
            f"select run_id, command, mode, status, started_at, finished_at, error "
            f"from {SCHEMA}.runs where command in ('run', 'sync') order by run_id desc limit 1"
        ).fetchone()
        if run is None:
            return {"run": None, "steps": []}
        run_id = run[0]
        steps = conn.execute(
            f"select s.entity, s.phase, s.rows_synced, s.rows_applied, s.rows_held_back, "
            f"s.tests_failed, extract(epoch from coalesce(s.finished_at, now()) - s.started_at), "
            f"s.detail from {SCHEMA}.run_steps s where s.run_id = %s order by s.position",
            (run_id,),
        ).fetchall()
        tables = conn.execute(
            f"select table_name, status, ranges_done, ranges_total, rows_new + rows_modified + "
            f"rows_deleted, extract(epoch from coalesce(finished_at, now()) - started_at) "
            f"from {SCHEMA}.table_syncs where run_id = %s order by started_at",
            (run_id,),
        ).fetchall()
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
            "command": run[1],
            "mode": run[2],
            "status": run[3],
            "started_at": run[4].isoformat() if run[4] else None,
            "finished_at": run[5].isoformat() if run[5] else None,
            "error": run[6],
        },
        "steps": step_rows,
        "tables": table_rows,
    }
