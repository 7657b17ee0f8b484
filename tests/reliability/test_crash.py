"""Scenario 1 (issue 7) and issue 6: a `diffmig run` killed anywhere, then resumed, ends with the
destination an uninterrupted run gives.

A full run and then a delta run (after more legacy activity) are each killed with SIGKILL at
several points spread over every phase, chained: kill, `run --resume`, kill the resumed run at the
next point, ..., and the last resume runs to the end; one interruption of the delta run is a
`diffmig pause` from another process instead. The reference is an uninterrupted full run and delta
run on an identical copy of both databases (same installation, so the same UUID namespace).

Kill points are not picked by sleeping: the test holds a lock on the object the chosen statement
needs (a source table, a bookkeeping table, an app table, a view, a history table) and kills the
process once pg_stat_activity shows the tool's session blocked on that statement, so every kill
lands where it says, whatever the machine's speed. Once the process is dead the lock is released:
the orphaned session runs its statement, then ends (a transaction whose client is gone rolls back;
an autocommit statement commits, as after a real crash right after sending it).

After each kill, every entity's app table must hold either its state before the run or its state
after the reference run (no entity half-applied). At the end: the app tables equal the reference's
(every column, UUIDs included; only timestamps written during the test are masked, see
harness.table_rows; migration_control, the run log, is checked on its own), no legacy key twice in
migration_mappings or in an app table, and the mirror equal to the source (no staged change lost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from orchestrator.sandbox import build
from tests.conftest import ClusterPair
from tests.reliability.conftest import RecordFigures
from tests.reliability.harness import (
    ACTIVE_LEGACY,
    ACTIVE_TARGET,
    SMALL_ENTITIES,
    TOOL_SESSIONS,
    Fingerprint,
    Rig,
    assert_same_target,
    duplicate_legacy_keys,
    fingerprint,
    kill,
    last_run,
    mirror_mismatches,
    rig_for,
    wait_until,
)

ENTITIES = ",".join(SMALL_ENTITIES)
ACTIVITY_DAYS, ACTIVITY_SEED = 3, 11


@dataclass(frozen=True)
class Point:
    """Where to interrupt: hold `lock` (on `side`, as its superuser) and kill the run once one of
    its sessions waits for a lock in a statement containing `blocked`. `after`: take the lock only
    once this holds (else before the process starts: the first statement that needs the object
    is the one blocked). kind 'pause' asks `diffmig pause` once `after` holds instead."""

    name: str
    phase: str  # extract, stage, build, bookkeeping
    side: str = "target"
    lock: str = ""
    blocked: str = ""
    after: Callable[[Rig, int], bool] | None = None  # (rig, newest run before this process)
    kind: str = "kill"


def _entity_phase(entity: str, phase: str) -> Callable[[Rig, int], bool]:
    """The process's own run (newer than `since`: a killed run stays 'running') has reached
    `phase` for `entity`."""

    def check(r: Rig, since: int) -> bool:
        with r.target_tool() as conn:
            row = conn.execute(
                "select 1 from diffmig.run_steps where run_id > %s and entity = %s and phase = %s",
                (since, entity, phase),
            ).fetchone()
        return row is not None

    return check


def _checkpoints_in_run(at_least: int) -> Callable[[Rig, int], bool]:
    def check(r: Rig, since: int) -> bool:
        with r.target_tool() as conn:
            row = conn.execute(
                "select count(*) from diffmig.checkpoints where run_id > %s", (since,)
            ).fetchone()
        return bool(row and row[0] >= at_least)

    return check


def _lock(table: str, mode: str = "exclusive") -> str:
    return f"lock table {table} in {mode} mode"


# The chains are ordered so that each resume does little work before its kill: the points
# inside a build use offices (the first entity, the smallest build).
FULL_RUN_POINTS = [
    Point(
        "first range staged in the mirror, its checkpoint not committed",
        "stage",
        lock=_lock("diffmig.checkpoints"),
        blocked="diffmig.checkpoints",
    ),
    Point(
        "offices' upsert into the app table waiting",
        "build",
        lock=_lock("public.offices"),
        blocked="offices",
    ),
    Point(
        "offices upserted, its post-hook (row issues) not committed",
        "build",
        lock=_lock("diffmig.row_issues"),
        blocked="diffmig.row_issues",
    ),
    Point(
        "offices committed, its dbt results not recorded",
        "bookkeeping",
        lock=_lock("diffmig.build_results"),
        blocked="diffmig.build_results",
    ),
    Point(
        "offices' delta watermark being written",
        "bookkeeping",
        lock=_lock("diffmig.entity_watermarks"),
        blocked="diffmig.entity_watermarks",
    ),
    Point(
        "source table auth_user being read (profiles' sync)",
        "extract",
        side="legacy",
        lock=_lock("public.auth_user", "access exclusive"),
        blocked="auth_user",
    ),
    Point(
        "a range in the middle of the sync, after two checkpoints",
        "stage",
        lock=_lock("diffmig.checkpoints"),
        blocked="diffmig.checkpoints",
        after=_checkpoints_in_run(2),
    ),
]

DELTA_RUN_POINTS = [
    Point(
        "the run registering its steps",
        "bookkeeping",
        lock=_lock("diffmig.run_steps"),
        blocked="diffmig.run_steps",
    ),
    Point(
        "first changed range staged, its checkpoint not committed",
        "stage",
        lock=_lock("diffmig.checkpoints"),
        blocked="diffmig.checkpoints",
    ),
    Point(
        "offices' first view or seed being checked for changes by dbt",
        "build",
        lock=_lock("diffmig.build_digests", "access exclusive"),
        blocked="diffmig.build_digests",
    ),
    Point(
        "paused by `diffmig pause` while offices builds",
        "pause",
        after=_entity_phase("offices", "build"),
        kind="pause",
    ),
    Point(
        "source table dispatch_product compared (detection)",
        "extract",
        side="legacy",
        lock=_lock("public.dispatch_product", "access exclusive"),
        blocked="dispatch_product",
    ),
    Point(
        "an entity's migration_control row being written (its step not yet done)",
        "bookkeeping",
        lock=_lock("public.migration_control"),
        blocked="migration_control",
    ),
    Point(
        "history snapshot of auth_user, after the last entity",
        "bookkeeping",
        lock=_lock("diffmig_history.auth_user_history"),
        blocked="auth_user_history",
    ),
]


def _blocked(rig: Rig, point: Point) -> tuple[str, str] | None:
    cluster, dbname = (
        (rig.legacy, ACTIVE_LEGACY) if point.side == "legacy" else (rig.target, ACTIVE_TARGET)
    )
    with cluster.connect("postgres") as conn:
        row = conn.execute(
            "select application_name, query from pg_stat_activity where datname = %s "
            "and wait_event_type = 'Lock' and application_name = any(%s) "
            "and position(%s in lower(query)) > 0",
            (dbname, list(TOOL_SESSIONS), point.blocked.lower()),
        ).fetchone()
    return (str(row[0]), " ".join(str(row[1]).split())[:140]) if row else None


def _where(rig: Rig) -> dict[str, Any]:
    """The bookkeeping at the moment of a kill: the run, its entities not pending, its
    checkpoints."""
    with rig.target_tool() as conn:
        run = conn.execute("select max(run_id) from diffmig.runs where command = 'run'").fetchone()
        run_id = run[0] if run else None
        steps = conn.execute(
            "select entity, phase from diffmig.run_steps where run_id = %s "
            "and phase not in ('pending', 'skipped') order by position",
            (run_id,),
        ).fetchall()
        (checkpoints,) = conn.execute(
            "select count(*) from diffmig.checkpoints where run_id = %s", (run_id,)
        ).fetchone() or (0,)
    return {"run_id": run_id, "steps": {e: p for e, p in steps}, "checkpoints": checkpoints}


def _take_lock(rig: Rig, point: Point) -> psycopg.Connection:
    conn = (rig.legacy_admin if point.side == "legacy" else rig.target_admin)(autocommit=False)
    conn.execute("set lock_timeout = '60s'")
    conn.execute(point.lock)
    return conn


def _assert_no_half_applied(
    rig: Rig, before: Fingerprint, after: Fingerprint, point: Point
) -> None:
    now = fingerprint(rig, list(SMALL_ENTITIES))
    for table in SMALL_ENTITIES:
        rows = now.tables[table]
        assert rows.keys() in (before.tables[table].keys(), after.tables[table].keys()), (
            f"after the kill at '{point.name}', {table} is neither as before the run nor as "
            f"after it: {now.differences(after)}"
        )


def interrupted_chain(
    rig: Rig,
    run_args: list[str],
    points: list[Point],
    before: Fingerprint,
    after: Fingerprint,
) -> dict[str, Any]:
    """Start the run, interrupt it at each point in turn (resuming after each), then let the
    last resume finish. Returns the figures."""
    hits: list[dict[str, Any]] = []
    started = time.monotonic()
    resume: list[str] = []
    for point in points:
        lock = _take_lock(rig, point) if point.kind == "kill" and point.after is None else None
        newest = _where(rig)["run_id"] or 0
        proc = rig.start("--output", "json", "run", *run_args, *resume)
        t0 = time.monotonic()
        try:
            if point.after is not None:
                wait_until(point.name, partial(point.after, rig, newest), proc)
            if point.kind == "pause":
                asked = rig.diffmig("pause")
                assert asked.returncode == 0, asked.stderr
                _, err = proc.communicate(timeout=300)
                assert proc.returncode == 130, (proc.returncode, err[-2000:])
                assert "--resume" in err
                assert last_run(rig)["status"] == "paused"
                hits.append(
                    {
                        "point": point.name,
                        "phase": point.phase,
                        **_where(rig),
                        "seconds": round(time.monotonic() - t0, 2),
                    }
                )
            else:
                if lock is None:
                    lock = _take_lock(rig, point)
                app, query = wait_until(
                    f"{point.name}: the run blocked", partial(_blocked, rig, point), proc
                )
                where = _where(rig)
                kill(proc)
                hits.append(
                    {
                        "point": point.name,
                        "phase": point.phase,
                        "session": app,
                        "statement": query,
                        **where,
                        "seconds": round(time.monotonic() - t0, 2),
                    }
                )
        finally:
            if proc.poll() is None:
                kill(proc)
            if lock is not None:
                lock.rollback()
                lock.close()
        rig.wait_sessions_gone()
        _assert_no_half_applied(rig, before, after, point)
        print(f"  {hits[-1]['phase']:<11} {hits[-1]['seconds']:6.1f}s  {point.name}", flush=True)
        resume = ["--resume"]
    done, last_seconds = rig.run_to_end(*run_args, "--resume")
    assert '"resumed_from"' in done.stdout
    return {
        "kills": [h for h in hits if h["phase"] != "pause"],
        "pauses": [h for h in hits if h["phase"] == "pause"],
        "resumes": len(points),
        "last_resume_s": round(last_seconds, 1),
        "chain_s": round(time.monotonic() - started, 1),
    }


def _check_end_state(
    rig: Rig, expected: Fingerprint, duplicates_before: dict[str, int], what: str
) -> None:
    assert_same_target(fingerprint(rig), expected, what)
    # The earlier scripts left some legacy keys twice in app tables diffmig does not write here:
    # none may be added.
    assert duplicate_legacy_keys(rig) == duplicates_before
    assert mirror_mismatches(rig) == {}, "a staged change was lost"
    with rig.target_tool() as conn:
        logged = {
            str(r[0])
            for r in conn.execute(
                "select table_name from public.migration_control where phase = 'diffmig' "
                "and status = 'completed'"
            )
        }
    assert set(SMALL_ENTITIES) <= logged, f"{what}: migration_control misses entities"


def _activity(rig: Rig) -> None:
    build.simulate_activity(
        rig.clusters.pair, ACTIVE_LEGACY, days=ACTIVITY_DAYS, seed=ACTIVITY_SEED
    )


def test_killed_anywhere_then_resumed_equals_uninterrupted(
    clusters: ClusterPair,
    reliability_scale: float,
    tmp_path: Path,
    record_figures: RecordFigures,
) -> None:
    figures: dict[str, Any] = {"scale": reliability_scale, "entities": list(SMALL_ENTITIES)}
    with rig_for(clusters, tmp_path, reliability_scale) as rig:
        rig.extra_env["DIFFMIG_RANGE_KEYS"] = "32"  # many small ranges: more checkpoints
        before = fingerprint(rig)
        duplicates = duplicate_legacy_keys(rig)
        assert duplicates["migration_mappings"] == 0
        rig.copy_as("ref")
        # The reference: uninterrupted full run, activity, uninterrupted delta run.
        rig.swap("ref")
        print(f"\nscale {reliability_scale}: reference runs", flush=True)
        _, figures["reference_full_s"] = rig.run_to_end("--mode", "full", "--entities", ENTITIES)
        after_full = fingerprint(rig)
        _activity(rig)
        _, figures["reference_delta_s"] = rig.run_to_end("--entities", ENTITIES)
        after_delta = fingerprint(rig)
        assert after_delta.summary() != after_full.summary(), "the activity changed nothing"
        rig.swap("ref")

        full = interrupted_chain(
            rig, ["--mode", "full", "--entities", ENTITIES], FULL_RUN_POINTS, before, after_full
        )
        _check_end_state(rig, after_full, duplicates, "full run killed and resumed")
        _activity(rig)
        delta = interrupted_chain(
            rig, ["--entities", ENTITIES], DELTA_RUN_POINTS, after_full, after_delta
        )
        _check_end_state(rig, after_delta, duplicates, "delta run killed and resumed")

        kills = full["kills"] + delta["kills"]
        assert len(kills) >= 10
        assert {k["phase"] for k in kills} == {"extract", "stage", "build", "bookkeeping"}
        figures.update(
            {
                "kill_points_hit": len(kills),
                "by_phase": {
                    p: sum(k["phase"] == p for k in kills)
                    for p in sorted({k["phase"] for k in kills})
                },
                "resumes": full["resumes"] + delta["resumes"],
                "full_run": full,
                "delta_run": delta,
            }
        )
    record_figures("crash", figures)
