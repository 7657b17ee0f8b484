"""The ordered migration run: for each entity in dependency order, sync its legacy tables into
the mirror, build its dbt models and tests, validate, checkpoint, and log it in migration_control.

An entity's order, its legacy tables and its models come from the dbt manifest (dbt_runner.py).
A run that is killed, fails or is paused is continued with `diffmig run --resume`: entities the
run (or the runs it resumed) finished are skipped, and the sync of a table resumes from its range
checkpoints. `diffmig pause` (or Ctrl-C) stops at the next safe point: between two entities, or
between two ranges of a sync.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.sql

from orchestrator import db
from orchestrator.bookkeeping import store
from orchestrator.bookkeeping.store import SCHEMA
from orchestrator.errors import Interrupted, RunFailed, UsageError
from orchestrator.settings import Settings, redact

Events = Callable[[dict[str, Any]], None]


@dataclass
class EntityOutcome:
    entity: str
    status: str  # done, failed, skipped
    rows_synced: int = 0
    rows_applied: int = 0
    rows_held_back: int = 0
    tests_failed: int = 0
    seconds: float = 0.0
    detail: str = ""


@dataclass
class RunOutcome:
    run_id: int
    mode: str
    status: str
    resumed_from: int | None
    entities: list[EntityOutcome] = field(default_factory=list)
    seconds: float = 0.0
    transport: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "status": self.status,
            "resumed_from": self.resumed_from,
            "transport": self.transport,
            "elapsed_s": round(self.seconds, 3),
            "entities": [e.__dict__ | {"seconds": round(e.seconds, 3)} for e in self.entities],
        }


class _PauseRequested(Exception):
    pass


@contextlib.contextmanager
def _sigint_pauses(flag: dict[str, bool]) -> Iterator[None]:
    """Ctrl-C asks for a pause at the next safe point; a second Ctrl-C interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if flag.get("pause"):
            raise KeyboardInterrupt
        flag["pause"] = True

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def request_pause(settings: Settings) -> int | None:
    """`diffmig pause`: flag the running run; returns its id, or None when nothing runs."""
    with db.connection(settings.target) as conn:
        store.ensure_schema(conn)
        row = conn.execute(
            f"update {SCHEMA}.runs set pause_requested_at = now() where run_id = "
            f"(select max(run_id) from {SCHEMA}.runs where command = 'run' and status = 'running') "
            "returning run_id"
        ).fetchone()
    return int(row[0]) if row else None


class MigrationRun:
    def __init__(
        self,
        settings: Settings,
        *,
        mode: str = "delta",
        entities: list[str] | None = None,
        from_entity: str | None = None,
        transport: str | None = None,
        resume: bool = False,
        reconcile: bool = False,
        events: Events | None = None,
        info: Callable[[str], None] | None = None,
    ) -> None:
        if mode not in ("delta", "full"):
            raise UsageError(f"--mode must be delta or full, got {mode!r}")
        self.settings = settings
        self.mode = mode
        self.only = entities
        self.from_entity = from_entity
        self.transport = transport
        self.resume = resume
        self.reconcile = reconcile
        self.events = events or (lambda _e: None)
        self.info = info or (lambda _m: None)
        self.pause_flag: dict[str, bool] = {}

    def _emit(self, **event: Any) -> None:
        self.events(event)

    def execute(self) -> RunOutcome:
        from orchestrator.dbt_runner import DbtProject
        from orchestrator.sync.engine import SyncEngine

        started = time.monotonic()
        project = DbtProject(self.settings)
        self.info("reading the dbt project (entity order, models, legacy tables)")
        entities = project.entities()
        selected = self._select(entities)
        with db.connection(self.settings.target) as dst:
            store.ensure_schema(dst)
            unfinished = store.unfinished_run(dst, "run")
            resumed_from = unfinished if self.resume else None
            if unfinished is not None and not self.resume:
                self.info(
                    f"run {unfinished} did not finish; starting a new run "
                    "(`diffmig run --resume` would continue it from its checkpoints)"
                )
            if self.resume and unfinished is None:
                self.info("nothing to resume: starting a new run")
            run = store.start_run(
                dst,
                "run",
                mode=self.mode,
                transport=self.transport or self.settings.transport,
                source_desc=self.settings.source.describe(),
                target_desc=self.settings.target.describe(),
                resumed_from=resumed_from,
            )
            chain = [run.run_id]
            current = resumed_from
            while current is not None:
                chain.append(current)
                row = dst.execute(
                    f"select resumed_from from {SCHEMA}.runs where run_id = %s", (current,)
                ).fetchone()
                current = row[0] if row else None
            done_before = {
                r[0]
                for r in dst.execute(
                    f"select entity from {SCHEMA}.run_steps where run_id = any(%s) "
                    "and phase = 'done'",
                    (chain[1:],),
                )
            }
            for position, entity in enumerate(selected):
                dst.execute(
                    f"insert into {SCHEMA}.run_steps (run_id, entity, position, phase) "
                    "values (%s, %s, %s, %s)",
                    (
                        run.run_id,
                        entity.name,
                        position,
                        "skipped" if entity.name in done_before else "pending",
                    ),
                )
        outcome = RunOutcome(run.run_id, self.mode, "running", resumed_from)
        engine = SyncEngine(self.settings, transport=self.transport, info=self.info)
        synced: set[str] = set()
        synced_changes: set[str] = set()
        self._synced_changes = synced_changes
        self._emit(kind="run_started", run_id=run.run_id, entities=[e.name for e in selected])
        try:
            with _sigint_pauses(self.pause_flag):
                for entity in selected:
                    if entity.name in done_before:
                        outcome.entities.append(
                            EntityOutcome(entity.name, "skipped", detail="done by the resumed run")
                        )
                        continue
                    self._check_pause(run.run_id)
                    outcome.entities.append(
                        self._entity(run.run_id, chain, entity, project, engine, synced)
                    )
            self._snapshot(project, engine, synced_changes)
            outcome.status = "succeeded"
            if any(e.status == "failed" for e in outcome.entities):
                outcome.status = "failed"
        except _PauseRequested:
            outcome.status = "paused"
        except KeyboardInterrupt:
            outcome.status = "interrupted"
        except Exception as exc:
            outcome.status = "failed"
            self._finish(run.run_id, "failed", redact(str(exc)))
            raise
        finally:
            outcome.seconds = time.monotonic() - started
            outcome.transport = engine.transport.name
        self._finish(run.run_id, outcome.status, None, outcome.transport)
        if outcome.status in ("paused", "interrupted"):
            raise Interrupted(
                f"run {run.run_id} {outcome.status} at a safe point",
                hint="`diffmig run --resume` continues it",
            )
        return outcome

    def _select(self, entities: list[Any]) -> list[Any]:
        names = [e.name for e in entities]
        chosen = entities
        if self.only:
            unknown = [n for n in self.only if n not in names]
            if unknown:
                raise UsageError(
                    f"unknown entities: {', '.join(unknown)}",
                    hint=f"choose among: {', '.join(names)}",
                )
            chosen = [e for e in chosen if e.name in self.only]
        if self.from_entity:
            if self.from_entity not in names:
                raise UsageError(
                    f"unknown entity {self.from_entity!r}", hint=f"choose among: {', '.join(names)}"
                )
            start = names.index(self.from_entity)
            chosen = [e for e in chosen if names.index(e.name) >= start]
        return chosen

    def _check_pause(self, run_id: int) -> None:
        if self.pause_flag.get("pause"):
            raise _PauseRequested
        with db.connection(self.settings.target) as conn:
            row = conn.execute(
                f"select pause_requested_at from {SCHEMA}.runs where run_id = %s", (run_id,)
            ).fetchone()
        if row and row[0] is not None:
            raise _PauseRequested

    def _step(self, run_id: int, entity: str, **columns: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in columns)
        with db.connection(self.settings.target) as conn:
            conn.execute(
                f"update {SCHEMA}.run_steps set {sets} where run_id = %s and entity = %s",
                (*columns.values(), run_id, entity),
            )

    def _entity(
        self,
        run_id: int,
        chain: list[int],
        entity: Any,
        project: Any,
        engine: Any,
        synced: set[str],
    ) -> EntityOutcome:
        started = time.monotonic()
        outcome = EntityOutcome(entity.name, "done")
        before = self._target_rows(entity.name)
        self._step(run_id, entity.name, phase="sync", started_at=_now(), target_rows_before=before)
        self._emit(kind="phase", entity=entity.name, phase="sync")
        tables = [t for t in entity.legacy_tables if t not in synced]
        counts = {"new": 0, "modified": 0, "deleted": 0}
        if tables:
            for change in engine.sync_within_run(run_id, chain, tables):
                counts["new"] += change.new
                counts["modified"] += change.modified
                counts["deleted"] += change.deleted
                if change.new or change.modified or change.deleted:
                    self._synced_changes.add(change.table)
            synced.update(tables)
        outcome.rows_synced = sum(counts.values())
        sync_seconds = time.monotonic() - started
        self._step(
            run_id,
            entity.name,
            phase="build",
            rows_synced=outcome.rows_synced,
            rows_new=counts["new"],
            rows_modified=counts["modified"],
            rows_deleted=counts["deleted"],
            sync_seconds=round(sync_seconds, 3),
        )
        self._emit(kind="phase", entity=entity.name, phase="build", rows_synced=outcome.rows_synced)
        since = 0 if self.mode == "full" else self._watermark(entity.name)
        if since and not self._has_work(entity, since):
            outcome.seconds = time.monotonic() - started
            outcome.detail = "nothing to do: no mirror row changed since its last applied run"
            self._step(
                run_id,
                entity.name,
                phase="done",
                finished_at=_now(),
                target_rows_after=before,
                detail=outcome.detail,
                sync_seconds=round(sync_seconds, 3),
                build_seconds=0,
            )
            self._emit(
                kind="entity_done",
                entity=entity.name,
                rows_applied=0,
                rows_synced=outcome.rows_synced,
                seconds=outcome.seconds,
            )
            return outcome
        build_started = time.monotonic()
        result = project.build(
            list(entity.nodes),
            vars_={"since_run": since, "run_id": run_id, "reconcile": self.reconcile},
        )
        build_seconds = time.monotonic() - build_started
        self._record_results(run_id, entity.name, result)
        mart = next((n for n in result.nodes if n.name == entity.name), None)
        outcome.rows_applied = int(mart.rows_affected or 0) if mart else 0
        tests = [n for n in result.nodes if n.resource_type == "test"]
        outcome.tests_failed = sum(1 for n in result.failed if n.resource_type == "test")
        errors = [n for n in result.failed if n.resource_type != "test"]
        outcome.rows_held_back = self._held_back(entity.name)
        outcome.seconds = time.monotonic() - started
        if errors:
            outcome.status = "failed"
            outcome.detail = "; ".join(f"{n.name}: {n.message}" for n in errors)[:2000]
            self._step(
                run_id,
                entity.name,
                phase="failed",
                finished_at=_now(),
                detail=outcome.detail,
                rows_applied=outcome.rows_applied,
                build_seconds=round(build_seconds, 3),
            )
            self._control(entity.name, "failed", outcome, outcome.detail)
            raise RunFailed(
                f"entity {entity.name} failed to build in run {run_id}: {outcome.detail}",
                hint="fix the cause, then `diffmig run --resume` continues from this entity",
            )
        if outcome.tests_failed:
            outcome.detail = "tests failed: " + ", ".join(
                n.name for n in result.failed if n.resource_type == "test"
            )
        self._set_watermark(entity.name, run_id)
        self._step(
            run_id,
            entity.name,
            phase="done",
            finished_at=_now(),
            rows_applied=outcome.rows_applied,
            rows_held_back=outcome.rows_held_back,
            tests_run=len(tests),
            tests_failed=outcome.tests_failed,
            target_rows_after=self._target_rows(entity.name),
            build_seconds=round(build_seconds, 3),
            detail=outcome.detail or None,
        )
        self._control(entity.name, "completed", outcome, None)
        self._emit(
            kind="entity_done",
            entity=entity.name,
            rows_applied=outcome.rows_applied,
            rows_synced=outcome.rows_synced,
            seconds=outcome.seconds,
        )
        return outcome

    def _has_work(self, entity: Any, since: int) -> bool:
        """Whether a delta build of the entity could change anything: a mirror row of one of its
        upstream legacy tables was synced after `since` (every cause of a change, a held-back
        row's parent arriving included, starts there), or drift is to be reconciled."""
        with db.connection(self.settings.target) as conn:
            for table in entity.legacy_tables:
                row = conn.execute(
                    psycopg.sql.SQL("select 1 from {} where _synced_run > %s limit 1").format(
                        psycopg.sql.Identifier("diffmig_staging", table)
                    ),
                    (since,),
                ).fetchone()
                if row:
                    return True
            if not self.reconcile:
                return False
            row = conn.execute(
                f"select 1 from {SCHEMA}.row_issues where entity = %s and resolved_at is null "
                "and reason = 'drift' limit 1",
                (entity.name,),
            ).fetchone()
        return row is not None

    def _target_rows(self, table: str) -> int | None:
        with db.connection(self.settings.target) as conn:
            exists = conn.execute("select to_regclass(%s)", (f"public.{table}",)).fetchone()
            if not exists or exists[0] is None:
                return None
            row = conn.execute(
                psycopg.sql.SQL("select count(*) from {}").format(
                    psycopg.sql.Identifier("public", table)
                )
            ).fetchone()
        return int(row[0]) if row else None

    def _record_results(self, run_id: int, entity: str, result: Any) -> None:
        with db.connection(self.settings.target) as conn, conn.cursor() as cur:
            cur.executemany(
                f"insert into {SCHEMA}.build_results (run_id, entity, node, resource_type, "
                "status, rows_affected, failures, seconds, message) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (run_id, entity, node) do update "
                "set status = excluded.status, rows_affected = excluded.rows_affected, "
                "failures = excluded.failures, seconds = excluded.seconds, message = excluded.message",
                [
                    (
                        run_id,
                        entity,
                        n.name,
                        n.resource_type,
                        n.status,
                        n.rows_affected,
                        n.failures,
                        round(n.seconds, 3),
                        n.message[:2000],
                    )
                    for n in result.nodes
                ],
            )

    # Snapshotting the 5 million notifications costs minutes whatever changed (dbt re-sorts the
    # whole history): it runs on its own schedule (`dbt snapshot --select
    # dispatch_notification_history`), not in every run.
    HEAVY_SNAPSHOTS = frozenset({"dispatch_notification"})

    def _snapshot(self, project: Any, engine: Any, changed: set[str]) -> None:
        """History: a snapshot of every legacy table whose mirror changed in this run."""
        tables = sorted(t for t in changed if t not in self.HEAVY_SNAPSHOTS)
        if not tables:
            return
        self.info(f"history: snapshotting {len(tables)} changed legacy tables")
        result = project.snapshot([f"{t}_history" for t in tables])
        for node in result.failed:
            self.info(f"history: snapshot {node.name} failed: {node.message}")

    def _watermark(self, entity: str) -> int:
        with db.connection(self.settings.target) as conn:
            row = conn.execute(
                f"select applied_run from {SCHEMA}.entity_watermarks where entity = %s", (entity,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _set_watermark(self, entity: str, run_id: int) -> None:
        with db.connection(self.settings.target) as conn:
            conn.execute(
                f"insert into {SCHEMA}.entity_watermarks (entity, applied_run) values (%s, %s) "
                "on conflict (entity) do update set applied_run = excluded.applied_run, "
                "applied_at = now()",
                (entity, run_id),
            )

    def _held_back(self, entity: str) -> int:
        with db.connection(self.settings.target) as conn:
            row = conn.execute(
                f"select count(distinct legacy_key) from {SCHEMA}.row_issues where entity = %s "
                "and resolved_at is null and severity = 'error'",
                (entity,),
            ).fetchone()
        return int(row[0]) if row else 0

    def _control(self, entity: str, status: str, outcome: EntityOutcome, error: str | None) -> None:
        """A migration_control row in the shape the earlier scripts left."""
        with db.connection(self.settings.target) as conn, contextlib.suppress(psycopg.Error):
            conn.execute(
                "insert into public.migration_control (phase, table_name, operation, status, "
                "records_processed, total_records, started_at, completed_at, error_message, "
                "batch_size, worker_id, source_query, validation_query) values "
                "(%s, %s, %s, %s, %s, %s, now() - make_interval(secs => %s), now(), %s, null, "
                "null, %s, %s)",
                (
                    "diffmig",
                    entity,
                    self.mode,
                    status,
                    outcome.rows_applied,
                    outcome.rows_synced,
                    outcome.seconds,
                    error,
                    "diffmig run (mirror rows synced since the entity's watermark)",
                    f"dbt tests of {entity}: {outcome.tests_failed} failed",
                ),
            )

    def _finish(
        self, run_id: int, status: str, error: str | None, transport: str | None = None
    ) -> None:
        with db.connection(self.settings.target) as conn:
            store.finish_run(conn, run_id, status, error)
            if transport:
                conn.execute(
                    f"update {SCHEMA}.runs set transport = %s where run_id = %s",
                    (transport, run_id),
                )


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
