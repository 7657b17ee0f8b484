"""Scenario 2 (issue 7): the source goes away in the middle of a run's sync, and the run completes
on its own; `diffmig report` (JSON) lists the retries.

Three outages, each placed by holding a lock the run needs and watching pg_stat_activity (no
sleeping to guess where the run is):
  - the fdw transport's session on the legacy server terminated in the middle of a range's pull
    (the pull done, its remote transaction still open while the range's checkpoint waits);
  - the legacy server stopped (pg_ctl stop -m fast) while the run reads a source table, kept down
    for 3 s (longer than the first retry intervals, 0.5 s and 1 s), then started again;
  - in a delta run with the copy transport, the sync's source session terminated in the middle of
    its COPY (the change detection's COPY ... TO STDOUT).
Retry bounds are the product's defaults (db.RETRY_ATTEMPTS, RETRY_MAX_SECONDS): nothing shortened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from orchestrator.sandbox import build
from tests.conftest import ClusterPair
from tests.reliability.conftest import RecordFigures
from tests.reliability.harness import (
    ACTIVE_LEGACY,
    ACTIVE_TARGET,
    Rig,
    kill,
    mirror_mismatches,
    rig_for,
    wait_until,
)

ENTITIES = "offices,products"
OUTAGE_SECONDS = 3.0


def _sessions(rig: Rig, side: str, where: str, *params: Any) -> list[tuple[int, str, str]]:
    cluster, dbname = (
        (rig.legacy, ACTIVE_LEGACY) if side == "legacy" else (rig.target, ACTIVE_TARGET)
    )
    with cluster.connect("postgres") as conn:
        return [
            (int(r[0]), str(r[1]), str(r[2]))
            for r in conn.execute(
                "select pid, state, query from pg_stat_activity where datname = %s "
                f"and pid <> pg_backend_pid() and {where}",
                (dbname, *params),
            )
        ]


def _blocked_on(rig: Rig, side: str, what: str) -> Callable[[], list[tuple[int, str, str]]]:
    return lambda: _sessions(
        rig,
        side,
        "wait_event_type = 'Lock' and application_name like 'diffmig%%' "
        "and position(%s in lower(query)) > 0",
        what,
    )


def _terminate(rig: Rig, pids: list[int]) -> int:
    with rig.legacy.connect("postgres") as conn:
        row = conn.execute(
            "select count(*) filter (where pg_terminate_backend(pid)) from unnest(%s::int[]) pid",
            (pids,),
        ).fetchone()
    return int(row[0]) if row else 0


def _lock(conn: psycopg.Connection, statement: str) -> None:
    conn.execute("set lock_timeout = '60s'")
    conn.execute(statement)


def _finish(proc: Any) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return int(proc.returncode), out, err


def _retries(rig: Rig, run_id: int) -> list[dict[str, Any]]:
    report = rig.report(run_id)
    assert report["run"]["run_id"] == run_id
    return list(report["retries"])


def test_source_outages_mid_sync_are_survived(
    clusters: ClusterPair,
    reliability_scale: float,
    tmp_path: Path,
    record_figures: RecordFigures,
) -> None:
    figures: dict[str, Any] = {"scale": reliability_scale, "entities": ENTITIES.split(",")}
    with rig_for(clusters, tmp_path, reliability_scale) as rig:
        rig.extra_env["DIFFMIG_RANGE_KEYS"] = "32"

        # --- run 1 (full, fdw): fdw pull cut, then the legacy server down for a while ---------
        target_lock = rig.target_admin(autocommit=False)
        source_lock = rig.legacy_admin(autocommit=False)
        _lock(target_lock, "lock table diffmig.checkpoints in exclusive mode")
        _lock(source_lock, "lock table public.dispatch_product in access exclusive mode")
        started = time.monotonic()
        proc = rig.start(
            "--output", "json", "run", "--mode", "full", "--transport", "fdw",
            "--entities", ENTITIES,
        )  # fmt: skip
        try:
            wait_until("a range waiting for its checkpoint", _blocked_on(
                rig, "target", "diffmig.checkpoints"), proc)  # fmt: skip
            pulls = wait_until(
                "the fdw pull's open transaction on the legacy server",
                lambda: _sessions(
                    rig, "legacy", "application_name = 'diffmig-fdw' and xact_start is not null"
                ),
                proc,
            )
            terminated_fdw = _terminate(rig, [p for p, _, _ in pulls])
            target_lock.rollback()
            wait_until(
                "the sync reading dispatch_product",
                _blocked_on(rig, "legacy", "dispatch_product"),
                proc,
            )
            stopped_at = time.monotonic()
            clusters.legacy.stop("fast")
            time.sleep(OUTAGE_SECONDS)
            clusters.legacy.start()
            down_s = time.monotonic() - stopped_at
            code, out, err = _finish(proc)
        finally:
            if proc.poll() is None:
                kill(proc)
            for conn in (target_lock, source_lock):
                conn.close()
        assert code == 0, err[-3000:]
        run1_s = time.monotonic() - started
        assert '"status": "succeeded"' in out
        with rig.target_tool() as conn:
            (run1,) = conn.execute("select max(run_id) from diffmig.runs").fetchone() or (0,)
        retries1 = _retries(rig, run1)
        steps1 = {r["step"] for r in retries1}
        assert any("dispatch_office" in s for s in steps1), retries1  # the fdw pull cut
        assert any("dispatch_product" in s for s in steps1), retries1  # the server down
        assert mirror_mismatches(rig) == {}

        # --- run 2 (delta, copy): the source session terminated mid-COPY ---------------------
        build.simulate_activity(clusters.pair, ACTIVE_LEGACY, days=2, seed=5)
        source_lock = rig.legacy_admin(autocommit=False)
        _lock(source_lock, "lock table public.dispatch_office in access exclusive mode")
        started = time.monotonic()
        proc = rig.start(
            "--output", "json", "run", "--transport", "copy", "--entities", ENTITIES
        )  # fmt: skip
        try:
            copying = wait_until(
                "the sync's COPY of dispatch_office",
                lambda: [
                    s
                    for s in _blocked_on(rig, "legacy", "dispatch_office")()
                    if s[2].lower().lstrip().startswith("copy")
                ],
                proc,
            )
            terminated_copy = _terminate(rig, [p for p, _, _ in copying])
            source_lock.rollback()
            code, out, err = _finish(proc)
        finally:
            if proc.poll() is None:
                kill(proc)
            source_lock.close()
        assert code == 0, err[-3000:]
        run2_s = time.monotonic() - started
        with rig.target_tool() as conn:
            (run2,) = conn.execute("select max(run_id) from diffmig.runs").fetchone() or (0,)
        retries2 = _retries(rig, run2)
        assert any("dispatch_office" in r["step"] for r in retries2), (
            terminated_copy,
            copying,
            retries2,
            out[-3000:],
            err[-3000:],
        )
        assert mirror_mismatches(rig) == {}

        figures.update(
            {
                "fdw_sessions_terminated": terminated_fdw,
                "legacy_down_s": round(down_s, 1),
                "copy_sessions_terminated": terminated_copy,
                "run_full_fdw": {"run_id": run1, "seconds": round(run1_s, 1), "retries": retries1},
                "run_delta_copy": {
                    "run_id": run2,
                    "seconds": round(run2_s, 1),
                    "retries": retries2,
                },
            }
        )
    record_figures("outages", figures)
