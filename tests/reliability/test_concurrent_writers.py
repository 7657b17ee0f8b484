"""Scenario 4 (issue 7): the legacy app keeps writing while a run executes.

The mirror is first synced with nobody writing (`diffmig sync`: the first sync, as after the
initial migration). Then `diffmig run` starts, and once its sync has begun, the sandbox's activity
(sandbox.simulate_activity, one day of use per transaction: new, changed and deleted rows, each
logged in sandbox.activity_log) writes to the source in a loop until the run ends (at most
MAX_BATCHES days). One more delta run follows, with nobody writing.

The target must reflect every change, none lost and none doubled, checked key by key:
  - every row the activity logged is in the mirror as it is in the source (a deleted one marked
    deleted), and the whole mirror equals the source;
  - every mirrored user (profiles) and office (offices), the logged ones among them, reached the
    target: the entity's bookkeeping (diffmig.entity_rows) shows it applied by a run no older
    than the sync that staged its last change, or an open row issue says why it is held back or
    left alone (drift, deleted in the source);
  - no legacy key twice, in migration_mappings or in an app table.
A run from scratch on a copy of the final source is not the reference here: a writer running
during the sync lets diffmig see states the final source no longer shows (a row deleted, then
inserted again with its old content: diffmig applied the delete, so the row is its own from then
on and the mapping overwrites the earlier scripts' values; a run that never saw the delete leaves
them as drift), so the two targets legitimately differ on such rows.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.sandbox import build
from tests.conftest import ClusterPair
from tests.reliability.conftest import RecordFigures
from tests.reliability.harness import (
    ACTIVE_LEGACY,
    Rig,
    duplicate_legacy_keys,
    kill,
    mirror_mismatches,
    rig_for,
    wait_until,
)

ENTITIES = "offices,products,profiles,doctors"
# The legacy tables those entities read (what their runs sync).
TABLES = (
    "dispatch_office,dispatch_course,dispatch_product,auth_user,auth_user_groups,"
    "dispatch_patient,dispatch_doctorsetting,dispatch_office_doctors"
)


MAX_BATCHES = 10  # days of activity written during the run, at most (bounds the test's time)


class Writer(threading.Thread):
    """The legacy app: one simulated day of activity per transaction until told to stop (or
    MAX_BATCHES days are written)."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(daemon=True)
        self.rig = rig
        self.stop = threading.Event()
        self.batches: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        seed = 100
        try:
            while not self.stop.is_set() and len(self.batches) < MAX_BATCHES:
                seed += 1
                summary = build.simulate_activity(
                    self.rig.clusters.pair, ACTIVE_LEGACY, days=1, seed=seed
                )
                self.batches.append(summary.batch)
                self.stop.wait(0.2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _logged_keys_not_mirrored(rig: Rig, batches: list[int]) -> list[tuple[str, int]]:
    """The keys the activity logged in `batches` (tables the mirror holds) whose mirror row
    differs from the source's, or that are live in one and not the other."""
    with rig.legacy_admin() as src:
        logged = src.execute(
            "select distinct table_name, legacy_id from sandbox.activity_log "
            "where batch = any(%s) and legacy_id is not null and kind <> 'schema'",
            (batches,),
        ).fetchall()
    with rig.target_admin() as dst:
        mirrored = {str(r[0]) for r in dst.execute("select table_name from diffmig.mirror_tables")}
    by_table: dict[str, list[int]] = {}
    for table, key in logged:
        if table in mirrored:
            by_table.setdefault(str(table), []).append(int(key))
    out: list[tuple[str, int]] = []
    with rig.legacy_admin() as src, rig.target_admin() as dst:
        for table, keys in by_table.items():
            cols = [
                str(r[0])
                for r in src.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass "
                    "and attnum > 0 and not attisdropped order by attnum",
                    (f"public.{table}",),
                )
            ]
            row_expr = "md5(row(" + ", ".join(f'"{c}"' for c in cols) + ")::text)"
            source: dict[Any, Any] = dict(
                src.execute(
                    f"select id, {row_expr} from public.{table} where id = any(%s)", (keys,)
                ).fetchall()
            )
            mirror: dict[Any, Any] = dict(
                dst.execute(
                    f"select id, {row_expr} from diffmig_staging.{table} "
                    "where id = any(%s) and _deleted_at is null",
                    (keys,),
                ).fetchall()
            )
            out += [(table, k) for k in keys if source.get(k) != mirror.get(k)]
    return out


def test_concurrent_writers_lose_and_double_nothing(
    clusters: ClusterPair,
    reliability_scale: float,
    tmp_path: Path,
    record_figures: RecordFigures,
) -> None:
    figures: dict[str, Any] = {"scale": reliability_scale, "entities": ENTITIES.split(",")}
    with rig_for(clusters, tmp_path, reliability_scale) as rig:
        duplicates = duplicate_legacy_keys(rig)
        first = rig.diffmig("--output", "json", "sync", "--tables", TABLES)
        assert first.returncode == 0, first.stderr[-3000:]

        started = time.monotonic()
        proc = rig.start("--output", "json", "run", "--entities", ENTITIES)
        writer = Writer(rig)
        try:
            wait_until(
                "the run's sync",
                lambda: _run_phase_seen(rig, "sync"),
                proc,
                interval=0.02,
            )
            writer.start()
            out, err = proc.communicate(timeout=900)
        finally:
            writer.stop.set()
            if proc.poll() is None:
                kill(proc)
            if writer.is_alive():
                writer.join(timeout=120)
        run_s = time.monotonic() - started
        assert writer.error is None, writer.error
        assert proc.returncode == 0, err[-3000:]
        assert writer.batches, "no activity was written during the run"
        with rig.legacy_admin() as src:
            changes: dict[Any, Any] = dict(
                src.execute(
                    "select kind, count(*) from sandbox.activity_log where batch = any(%s) "
                    "group by 1 order by 1",
                    (writer.batches,),
                ).fetchall()
            )
        _, delta_s = rig.run_to_end("--entities", ENTITIES)

        assert _logged_keys_not_mirrored(rig, writer.batches) == []
        assert mirror_mismatches(rig) == {}
        assert duplicate_legacy_keys(rig) == duplicates
        applied = _changes_not_applied(rig, writer.batches)
        assert applied["lost"] == [], applied["lost"][:20]
        figures.update(
            {
                "activity_batches_during_run": len(writer.batches),
                "rows_changed_during_run": changes,
                "run_s": round(run_s, 1),
                "delta_run_after_s": round(delta_s, 1),
                "keys_checked": applied["checked"],
                "logged_keys_checked": applied["logged"],
            }
        )
    record_figures("concurrent_writers", figures)


# Legacy table -> the entity whose bookkeeping records its keys (entity_rows.legacy_key = id).
ENTITY_OF = {"auth_user": "profiles", "dispatch_office": "offices"}


def _changes_not_applied(rig: Rig, batches: list[int]) -> dict[str, Any]:
    """Per mirrored key of ENTITY_OF's tables: applied at or after the sync of its last change,
    or an open issue for it. Returns the keys that are neither ('lost') and the counts."""
    with rig.legacy_admin() as src:
        logged = {
            (str(t), int(k))
            for t, k in src.execute(
                "select distinct table_name, legacy_id from sandbox.activity_log "
                "where batch = any(%s) and legacy_id is not null and kind <> 'schema'",
                (batches,),
            )
        }
    lost: list[tuple[str, int]] = []
    checked = 0
    with rig.target_admin() as dst:
        for table, entity in ENTITY_OF.items():
            rows = dst.execute(
                f"select m.id, coalesce(r.last_run >= m._synced_run, false), exists ("
                "select 1 from diffmig.row_issues i where i.entity = %s "
                "and i.legacy_key = m.id::text and i.resolved_at is null) "
                f"from diffmig_staging.{table} m left join diffmig.entity_rows r "
                "on r.entity = %s and r.legacy_key = m.id::text",
                (entity, entity),
            ).fetchall()
            checked += len(rows)
            lost += [(table, int(key)) for key, applied, issue in rows if not (applied or issue)]
    return {
        "lost": lost,
        "checked": checked,
        "logged": sum(1 for t, _ in logged if t in ENTITY_OF),
    }


def _run_phase_seen(rig: Rig, phase: str) -> bool:
    with rig.target_tool() as conn:
        row = conn.execute(
            "select 1 from diffmig.run_steps s join diffmig.runs r using (run_id) "
            "where r.command = 'run' and r.status = 'running' and s.phase = %s",
            (phase,),
        ).fetchone()
    return row is not None
