"""The ordered migration run: for each entity in dependency order, sync its legacy tables into
the mirror, build its dbt models and tests, validate, checkpoint, and log it in migration_control.

An entity's order, its legacy tables and its models come from the dbt manifest (dbt_runner.py).
A run that is killed, fails or is paused is continued with `diffmig run --resume`: entities the
run (or the runs it resumed) finished are skipped, and the sync of a table resumes from its range
checkpoints. `diffmig pause` (or Ctrl-C) stops at the next safe point: between two entities, or
between two ranges of a sync.

Each entity goes through three steps (MigrationRun._entity): sync (its legacy tables not synced
yet in this run, by the SyncEngine), build (its dbt nodes, when a mirror row changed since its
watermark) and record (the build's results, row issues, watermark and step). What the run does
is told as typed events (events.py); its bookkeeping goes through orchestrator.bookkeeping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.sql

from orchestrator import db
from orchestrator.bookkeeping import builds, issues, runs, steps, syncs, watermarks
from orchestrator.bookkeeping.schema import ensure_schema, refresh_statistics
from orchestrator.bookkeeping.steps import StepValue
from orchestrator.errors import Interrupted, RunFailed, UsageError, diagnose
from orchestrator.events import (
    BuildPhase,
    BuildProgress,
    EntityDone,
    Events,
    RowIssueFound,
    RowIssueReasonCounted,
    RowIssuesCounted,
    RowIssuesOmitted,
    RunEvent,
    RunFinished,
    RunStarted,
    SyncPhase,
    SyncProgress,
)
from orchestrator.reasons import describe
from orchestrator.schema_reloads import SchemaReloadCounter
from orchestrator.settings import Settings, redact

if TYPE_CHECKING:
    from orchestrator.dbt_runner import BuildResult, DbtProject, Entity, NodeResult
    from orchestrator.proofs import EntityProof, Prover
    from orchestrator.sync.engine import SyncEngine, TableProgress

# Warnings of one reason logged key by key per entity and run; the rest are counted in one event
# (diffmig.row_issues and the report have them all). Every error is logged.
ROW_ISSUE_LOG_WARNINGS = 1000


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
    # The destination API's schema-cache reloads while the run worked (None: not measured).
    schema_reloads: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "status": self.status,
            "resumed_from": self.resumed_from,
            "transport": self.transport,
            "schema_reloads": self.schema_reloads,
            "elapsed_s": round(self.seconds, 3),
            "entities": [e.__dict__ | {"seconds": round(e.seconds, 3)} for e in self.entities],
        }


@dataclass
class SyncTally:
    """An entity's sync so far, per legacy table: the source's rows, those checked (estimated
    from the ranges done) and those changed."""

    entity: str | None = None
    totals: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Started:
    """A run recorded: its id, the runs it resumes (newest first, itself first) and the
    entities those finished."""

    run_id: int
    resumed_from: int | None
    chain: list[int]
    done_before: set[str]


@dataclass
class _Build:
    """An entity's build: dbt's result and its seconds."""

    result: BuildResult
    seconds: float


class _PauseRequested(Exception):
    pass


@contextlib.contextmanager
def _sigint_pauses(flag: dict[str, bool]) -> Iterator[None]:
    """Ctrl-C asks for a pause at the next safe point; a second Ctrl-C interrupts at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
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
        ensure_schema(conn)
        return runs.request_pause(conn)


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
        self.events: Events = events or (lambda _e: None)
        self.info: Callable[[str], None] = info or (lambda _m: None)
        self.pause_flag: dict[str, bool] = {}
        self._marts: list[str] = []
        self._with_ancestors: set[str] = set()
        self.run_id = 0
        self._bookkeeping: psycopg.Connection | None = None
        self._sync_state = SyncTally()
        # The legacy tables whose mirror changed in this run (their history snapshot is due).
        self._synced_changes: set[str] = set()
        # The bookkeeping's planner statistics: all refreshed before the run's first build, then
        # those a build changed much (schema.refresh_statistics).
        self._statistics_refreshed = False
        self._reloads = SchemaReloadCounter(settings.target)
        self._prover: Prover | None = None

    # --- the bookkeeping connection -------------------------------------------------------

    @contextlib.contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        """The run's connection to the destination for its bookkeeping, opened once and again
        when lost (one per query cost seconds of connection set-up per run)."""
        conn = self._bookkeeping
        if conn is None or conn.closed or conn.broken:
            # A destination restarting (after a failed build, say) is waited for, with the one
            # retry policy, so the run's outcome is still recorded.
            conn = self._bookkeeping = db.with_retries(
                "connecting to the destination", lambda: db.connect(self.settings.target)
            )
            # One run at a time per destination, for as long as this connection lives (taken
            # again after a reconnect, unless another run started meanwhile).
            if not runs.hold_run_lock(conn, "run"):
                self._close_db()
                raise RunFailed(
                    "another `diffmig run` is working on this destination",
                    hint="wait for it (`diffmig status --watch`) or stop it (`diffmig pause`), "
                    "then run again",
                )
        yield conn

    def _close_db(self) -> None:
        if self._bookkeeping is not None:
            with contextlib.suppress(psycopg.Error):
                self._bookkeeping.close()
            self._bookkeeping = None

    # --- events ---------------------------------------------------------------------------

    def _emit(self, event: RunEvent) -> None:
        """Events for the console layer and the log file (cli/run.py, events.py); each carries
        the run_id once the run has one."""
        self.events(dataclasses.replace(event, run_id=self.run_id) if self.run_id else event)

    def _sync_progress(self, event: TableProgress) -> None:
        """The sync engine's progress after each range, as the entity's rows done and total
        (a table's rows checked are estimated from its ranges done)."""
        tally = self._sync_state
        total = event.source_rows
        done = total * event.ranges_done // event.ranges_total if event.ranges_total else total
        tally.totals[event.table] = total
        tally.done[event.table] = done
        tally.changed[event.table] = event.rows
        self._emit(
            SyncProgress(
                entity=tally.entity,
                table=event.table,
                rows_done=sum(tally.done.values()),
                rows_total=sum(tally.totals.values()),
                rows_changed=sum(tally.changed.values()),
            )
        )

    # --- the run --------------------------------------------------------------------------

    def execute(self) -> RunOutcome:
        # Counted from before the bookkeeping's set-up to after the history snapshots: every
        # statement of the run that could make the app's API reload its schema cache.
        self._reloads = SchemaReloadCounter(self.settings.target)
        self._reloads.start()
        try:
            return self._execute()
        finally:
            self._reloads.stop()
            self._close_db()

    def _execute(self) -> RunOutcome:
        from orchestrator.dbt_runner import DbtProject
        from orchestrator.sync.engine import SyncEngine

        started = time.monotonic()
        project = DbtProject(self.settings)
        self.info("reading the dbt project (entity order, models, legacy tables)")
        entities = project.entities()
        selected = self._select(entities)
        self._plan_ancestors(entities, selected)
        run = self._start(selected)
        self._trip_wires(run.run_id, selected)
        outcome = RunOutcome(run.run_id, self.mode, "running", run.resumed_from)
        engine = SyncEngine(
            self.settings, transport=self.transport, info=self.info, progress=self._sync_progress
        )
        self.run_id = run.run_id
        self._emit(RunStarted(entities=tuple(e.name for e in selected)))
        try:
            with _sigint_pauses(self.pause_flag):
                self._entities(run, selected, project, engine, outcome)
            self._snapshot(project, self._synced_changes | self._changed_by(run.chain[1:]))
            outcome.status = "succeeded"
            if any(e.status == "failed" for e in outcome.entities):
                outcome.status = "failed"
        except _PauseRequested:
            outcome.status = "paused"
        except KeyboardInterrupt:
            outcome.status = "interrupted"
        except Exception as exc:
            outcome.status = "failed"
            # The failure may have broken the bookkeeping connection too: record it on a new
            # one; the original error is what the user must see.
            self._close_db()
            with contextlib.suppress(Exception):
                self._finish(run.run_id, "failed", redact(str(exc)), reloads=self._reloads.stop())
            if isinstance(exc, psycopg.Error):
                raise _run_failed(run.run_id, exc) from exc
            raise
        finally:
            outcome.seconds = time.monotonic() - started
            outcome.transport = engine.transport.name
            outcome.schema_reloads = self._reloads.stop()
            self._emit(
                RunFinished(
                    status=outcome.status,
                    seconds=outcome.seconds,
                    schema_reloads=outcome.schema_reloads,
                )
            )
        self._finish(run.run_id, outcome.status, None, outcome.transport, outcome.schema_reloads)
        if outcome.status in ("paused", "interrupted"):
            raise Interrupted(
                f"run {run.run_id} {outcome.status} at a safe point",
                hint="`diffmig run --resume` continues it",
            )
        return outcome

    def _plan_ancestors(self, entities: list[Entity], selected: list[Entity]) -> None:
        """A subset (--entities, --from) may leave out an entity whose build would have made
        shared staging and key views a later selected one reads: each selected entity after
        one left out also builds its ancestors, every other entity's table excluded."""
        self._marts = [e.name for e in entities]
        chosen = {e.name for e in selected}
        first_left_out = next((i for i, e in enumerate(entities) if e.name not in chosen), None)
        self._with_ancestors = (
            set()
            if first_left_out is None
            else {e.name for e in entities[first_left_out:] if e.name in chosen}
        )

    def _start(self, selected: list[Entity]) -> _Started:
        """Record the run (resuming the unfinished one when asked) and its pending steps."""
        with self._db() as dst:
            ensure_schema(dst)
            for dead in runs.mark_dead_runs(dst, "run"):
                self.info(f"run {dead} stopped without recording an outcome: marked interrupted")
            unfinished = runs.unfinished_run(dst, "run")
            resumed_from = unfinished if self.resume else None
            if unfinished is not None and not self.resume:
                self.info(
                    f"run {unfinished} did not finish; starting a new run "
                    "(`diffmig run --resume` would continue it from its checkpoints)"
                )
            if self.resume and unfinished is None:
                self.info("nothing to resume: starting a new run")
            run = runs.start_run(
                dst,
                "run",
                mode=self.mode,
                transport=self.transport or self.settings.transport,
                source_desc=self.settings.source.describe(),
                target_desc=self.settings.target.describe(),
                resumed_from=resumed_from,
            )
            chain = runs.resume_chain(dst, run.run_id, resumed_from)
            done_before = steps.done_entities(dst, chain[1:])
            for position, entity in enumerate(selected):
                phase = "skipped" if entity.name in done_before else "pending"
                steps.add_step(dst, run.run_id, entity.name, position, phase)
        return _Started(run.run_id, resumed_from, chain, done_before)

    def _entities(
        self,
        run: _Started,
        selected: list[Entity],
        project: DbtProject,
        engine: SyncEngine,
        outcome: RunOutcome,
    ) -> None:
        synced: set[str] = set()
        for entity in selected:
            if entity.name in run.done_before:
                outcome.entities.append(
                    EntityOutcome(entity.name, "skipped", detail="done by the resumed run")
                )
                continue
            self._check_pause(run.run_id)
            outcome.entities.append(
                self._entity(run.run_id, run.chain, entity, project, engine, synced)
            )

    def _select(self, entities: list[Entity]) -> list[Entity]:
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
        with self._db() as conn:
            if runs.pause_requested(conn, run_id):
                raise _PauseRequested

    def _step(self, run_id: int, entity: str, **columns: StepValue) -> None:
        with self._db() as conn:
            steps.update_step(conn, run_id, entity, columns)

    # --- one entity: sync, build, record ----------------------------------------------------

    def _entity(
        self,
        run_id: int,
        chain: list[int],
        entity: Entity,
        project: DbtProject,
        engine: SyncEngine,
        synced: set[str],
    ) -> EntityOutcome:
        started = time.monotonic()
        outcome = EntityOutcome(entity.name, "done")
        before = self._target_rows(entity.name)
        self._step(run_id, entity.name, phase="sync", started_at=_now(), target_rows_before=before)
        sync_seconds = self._sync_entity(run_id, chain, entity, engine, synced, outcome, started)
        since = 0 if self.mode == "full" else self._watermark(entity.name)
        to_map = self._rows_to_map(entity, since)
        has_work = not since or bool(to_map) or self._drift_to_reconcile(entity)
        self._emit(
            BuildPhase(entity=entity.name, rows_synced=outcome.rows_synced, rows_total=to_map)
        )
        if not has_work:
            self._prove(entity, since, changed=False)
            return self._nothing_to_build(
                run_id, entity.name, outcome, started, before, sync_seconds
            )
        build = self._build_entity(run_id, entity, project, since, to_map)
        if not [n for n in build.result.failed if n.resource_type != "test"]:
            build.result.nodes.append(self._proof_node(entity, since, build.result))
        return self._record_entity(run_id, entity.name, outcome, build, started)

    def _sync_entity(
        self,
        run_id: int,
        chain: list[int],
        entity: Entity,
        engine: SyncEngine,
        synced: set[str],
        outcome: EntityOutcome,
        started: float,
    ) -> float:
        """The sync step: the entity's legacy tables not synced yet in this run. Returns the
        seconds since the entity started."""
        tables = [t for t in entity.legacy_tables if t not in synced]
        estimates = self._mirror_estimates(tables)
        self._sync_state = SyncTally(entity=entity.name, totals=estimates)
        self._emit(
            SyncPhase(
                entity=entity.name, tables=tuple(tables), rows_total=sum(estimates.values()) or None
            )
        )
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
        return sync_seconds

    def _nothing_to_build(
        self,
        run_id: int,
        entity: str,
        outcome: EntityOutcome,
        started: float,
        before: int | None,
        sync_seconds: float,
    ) -> EntityOutcome:
        outcome.seconds = time.monotonic() - started
        outcome.detail = "nothing to do: no mirror row changed since its last applied run"
        self._step(
            run_id,
            entity,
            phase="done",
            finished_at=_now(),
            target_rows_after=before,
            detail=outcome.detail,
            sync_seconds=round(sync_seconds, 3),
            build_seconds=0,
        )
        self._emit(
            EntityDone(
                entity=entity,
                rows_applied=0,
                rows_synced=outcome.rows_synced,
                seconds=outcome.seconds,
            )
        )
        return outcome

    def _build_entity(
        self, run_id: int, entity: Entity, project: DbtProject, since: int, to_map: int | None
    ) -> _Build:
        """The build step: the entity's dbt nodes (with its ancestors when the selection left
        one out), a progress event per node."""
        started = time.monotonic()
        with self._db() as dst:
            refresh_statistics(dst, always=not self._statistics_refreshed)
        self._statistics_refreshed = True
        nodes_done = [0]

        def node_finished(node: dict[str, Any]) -> None:
            # The mart's one statement maps every row to map: when it ends, they are done
            # (its rows_affected are those it changed); the tests run after it.
            nodes_done[0] += 1
            mart = node["name"] == entity.name
            self._emit(
                BuildProgress(
                    entity=entity.name,
                    node=node["name"],
                    node_status=node["status"],
                    nodes_done=nodes_done[0],
                    rows_done=(to_map or 0) if mart else None,
                    rows_applied=node["rows_affected"] if mart else None,
                )
            )

        ancestors = entity.name in self._with_ancestors
        try:
            result = project.build(
                [*entity.nodes, f"+{entity.name}"] if ancestors else list(entity.nodes),
                exclude=[m for m in self._marts if m != entity.name] if ancestors else None,
                vars_={"since_run": since, "run_id": run_id, "reconcile": self.reconcile},
                on_node=node_finished,
                tests=False,
            )
        except RunFailed as exc:  # dbt itself failed (lost its connection, say): say where
            raise RunFailed(
                f"entity {entity.name} failed to build in run {run_id}: {exc.message}",
                hint=exc.hint,
            ) from exc
        return _Build(result, time.monotonic() - started)

    def _record_entity(
        self, run_id: int, entity: str, outcome: EntityOutcome, build: _Build, started: float
    ) -> EntityOutcome:
        """The record step: the build's results and row issues; a failed build stops the run,
        a good one moves the entity's watermark."""
        result = build.result
        if not result.success:
            # dbt's failure may be the destination's (restarted, say): the bookkeeping reconnects.
            self._close_db()
        with self._db() as conn:
            builds.record_results(conn, run_id, entity, result.nodes)
        self._report_row_issues(run_id, entity)
        mart = next((n for n in result.nodes if n.name == entity), None)
        outcome.rows_applied = int(mart.rows_affected or 0) if mart else 0
        tests = [n for n in result.nodes if n.resource_type == "test"]
        outcome.tests_failed = sum(1 for n in result.failed if n.resource_type == "test")
        errors = [n for n in result.failed if n.resource_type != "test"]
        outcome.rows_held_back = self._held_back(entity)
        outcome.seconds = time.monotonic() - started
        if errors:
            detail = "; ".join(f"{n.name}: {n.message}" for n in errors)[:2000]
            raise self._record_failure(run_id, entity, outcome, build, detail)
        if outcome.tests_failed:
            outcome.detail = "tests failed: " + ", ".join(
                n.name for n in result.failed if n.resource_type == "test"
            )
        with self._db() as conn:
            watermarks.set_watermark(conn, entity, run_id)
        # The earlier scripts' log row before the step is marked done: a crash in between makes
        # the resumed run build the entity again (a second row), never leaves it without one.
        self._control(entity, "completed", outcome, None)
        self._step(
            run_id,
            entity,
            phase="done",
            finished_at=_now(),
            rows_applied=outcome.rows_applied,
            rows_held_back=outcome.rows_held_back,
            tests_run=len(tests),
            tests_failed=outcome.tests_failed,
            target_rows_after=self._target_rows(entity),
            build_seconds=round(build.seconds, 3),
            detail=outcome.detail or None,
        )
        self._emit(
            EntityDone(
                entity=entity,
                rows_applied=outcome.rows_applied,
                rows_synced=outcome.rows_synced,
                seconds=outcome.seconds,
            )
        )
        return outcome

    def _record_failure(
        self, run_id: int, entity: str, outcome: EntityOutcome, build: _Build, detail: str
    ) -> RunFailed:
        """A build that failed (not its tests): the step and the earlier scripts' log say so;
        returns the error that stops the run."""
        outcome.status = "failed"
        outcome.detail = detail
        self._step(
            run_id,
            entity,
            phase="failed",
            finished_at=_now(),
            detail=detail,
            rows_applied=outcome.rows_applied,
            build_seconds=round(build.seconds, 3),
        )
        self._control(entity, "failed", outcome, detail)
        return _build_failed(run_id, entity, detail)

    # --- proofs (proofs.py, ADR 0011): one proof per entity instead of its dbt tests -------

    def _trip_wires(self, run_id: int, selected: list[Entity]) -> None:
        """Before anything is written: the entities another role wrote to since the last run
        (their proof is full this run)."""
        from orchestrator.proofs import Prover

        with self._db() as conn:
            self._prover = Prover(conn, run_id, self.settings.proof_rotation)
            for entity, reason in self._prover.tripwires(selected).items():
                self.info(f"proof of {entity} in full: {reason}")

    def _prove(self, entity: Entity, since: int, *, changed: bool) -> EntityProof:
        assert self._prover is not None
        with self._db() as conn:
            self._prover.conn = conn
            full = "full run" if self.mode == "full" else None
            return self._prover.prove(entity, full=full, since=since, changed=changed)

    def _proof_node(self, entity: Entity, since: int, result: BuildResult) -> NodeResult:
        """The build's writes are counted for the tripwire, then the entity is proven; the
        proof is the build's one test node."""
        from orchestrator.dbt_runner import NodeResult

        assert self._prover is not None
        mart = next((n for n in result.nodes if n.name == entity.name), None)
        with self._db() as conn:
            self._prover.conn = conn
            self._prover.own_writes(entity.name, int(mart.rows_affected or 0) if mart else 0)
        proof = self._prove(entity, since, changed=True)
        status = "fail" if proof.errors else ("warn" if proof.warnings else "pass")
        return NodeResult(
            name=f"{entity.name}__proof",
            resource_type="test",
            status=status,
            message=proof.message(),
            failures=proof.errors or proof.warnings,
            seconds=proof.seconds,
        )

    # --- what an entity has to do ---------------------------------------------------------

    def _drift_to_reconcile(self, entity: Entity) -> bool:
        """With --reconcile, whether the entity has open drift to apply (or duplicate target
        rows to delete) although no mirror row changed (every other cause of a change, a held-back row's parent arriving included,
        starts with a mirror row synced after the entity's watermark: `_rows_to_map`)."""
        if not self.reconcile:
            return False
        with self._db() as conn:
            return issues.has_open_drift(conn, entity.name)

    def _mirror_estimates(self, tables: list[str]) -> dict[str, int]:
        """The planner's row estimate of each mirror table (0 when never analysed or absent):
        the sync phase's expected rows until the engine has counted the source's."""
        if not tables:
            return {}
        with self._db() as conn:
            rows = conn.execute(
                "select t.name, greatest(coalesce(c.reltuples, 0), 0)::bigint "
                "from unnest(%s::text[]) as t(name) "
                "left join pg_class c on c.oid = to_regclass('diffmig_staging.' || "
                "quote_ident(t.name))",
                (tables,),
            ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def _rows_to_map(self, entity: Entity, since: int) -> int | None:
        """The mirror rows the entity's build will (re)map: synced after `since` (an index
        scan on _synced_run per legacy table); in full mode the estimate of all of them."""
        if not since:
            return sum(self._mirror_estimates(list(entity.legacy_tables)).values()) or None
        total = 0
        with self._db() as conn:
            for table in entity.legacy_tables:
                row = conn.execute(
                    psycopg.sql.SQL("select count(*) from {} where _synced_run > %s").format(
                        psycopg.sql.Identifier("diffmig_staging", table)
                    ),
                    (since,),
                ).fetchone()
                total += int(row[0]) if row else 0
        return total

    def _report_row_issues(self, run_id: int, entity: str) -> None:
        """One event per open row issue the entity's build recorded in this run: every error,
        and the first ROW_ISSUE_LOG_WARNINGS warnings of each reason (an entity can hold
        millions, e.g. the earlier scripts' system messages that differ from the mapping:
        those past the limit are one `row_issues_omitted` event per reason, with their count;
        all are in the bookkeeping); then one `row_issue_reason` event per reason, its rows
        and what to do about them (the issue catalogue). Two queries, the rows streamed, so memory stays flat
        whatever the count."""
        counts = {"error": 0, "warning": 0}
        with self._db() as conn:
            per_reason = issues.counts_by_reason(conn, run_id, entity)
            if not per_reason:
                return
            for issue in issues.stream_issues(conn, run_id, entity, ROW_ISSUE_LOG_WARNINGS):
                self._emit(
                    RowIssueFound(
                        entity=entity,
                        table=issue.table,
                        legacy_key=issue.legacy_key,
                        severity=issue.severity,
                        reason=issue.reason,
                        detail=issue.detail,
                    )
                )
        for severity, reason, count in per_reason:
            counts[severity] = counts.get(severity, 0) + count
            self._emit(
                RowIssueReasonCounted(
                    entity=entity,
                    severity=severity,
                    reason=reason,
                    rows=count,
                    what_to_do=describe(entity, reason, severity).what_to_do,
                )
            )
            if severity != "error" and count > ROW_ISSUE_LOG_WARNINGS:
                self._emit(
                    RowIssuesOmitted(
                        entity=entity,
                        severity=severity,
                        reason=reason,
                        logged=ROW_ISSUE_LOG_WARNINGS,
                        omitted=count - ROW_ISSUE_LOG_WARNINGS,
                    )
                )
        self._emit(
            RowIssuesCounted(entity=entity, errors=counts["error"], warnings=counts["warning"])
        )

    def _target_rows(self, table: str) -> int | None:
        with self._db() as conn:
            exists = conn.execute("select to_regclass(%s)", (f"public.{table}",)).fetchone()
            if not exists or exists[0] is None:
                return None
            row = conn.execute(
                psycopg.sql.SQL("select count(*) from {}").format(
                    psycopg.sql.Identifier("public", table)
                )
            ).fetchone()
        return int(row[0]) if row else None

    # Snapshotting the 5 million notifications costs minutes whatever changed (dbt re-sorts the
    # whole history), and the million tasks, checked in place every day, a share of that: they
    # run on their own schedule (`dbt snapshot --select dispatch_notification_history
    # dispatch_task_history`), not in every run.
    HEAVY_SNAPSHOTS = frozenset({"dispatch_notification", "dispatch_task"})

    def _changed_by(self, run_ids: list[int]) -> set[str]:
        """The legacy tables whose mirror changed in `run_ids` (the runs a resumed run
        continues: their history snapshot, taken at a run's end, is still due)."""
        if not run_ids:
            return set()
        with self._db() as conn:
            return syncs.changed_tables(conn, run_ids)

    def _snapshot(self, project: DbtProject, changed: set[str]) -> None:
        """History: a snapshot of every legacy table whose mirror changed in this run."""
        tables = sorted(t for t in changed if t not in self.HEAVY_SNAPSHOTS)
        if not tables:
            return
        self.info(f"history: snapshotting {len(tables)} changed legacy tables")
        result = project.snapshot([f"{t}_history" for t in tables])
        for node in result.failed:
            self.info(f"history: snapshot {node.name} failed: {node.message}")

    def _watermark(self, entity: str) -> int:
        with self._db() as conn:
            return watermarks.watermark(conn, entity)

    def _held_back(self, entity: str) -> int:
        with self._db() as conn:
            return issues.held_back(conn, entity)

    def _control(self, entity: str, status: str, outcome: EntityOutcome, error: str | None) -> None:
        """A migration_control row in the shape the earlier scripts left."""
        with self._db() as conn, contextlib.suppress(psycopg.Error):
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
        self,
        run_id: int,
        status: str,
        error: str | None,
        transport: str | None = None,
        reloads: int | None = None,
    ) -> None:
        with self._db() as conn:
            runs.finish_run(
                conn,
                run_id,
                status,
                error,
                transport=transport,
                keep_runs=self.settings.keep_runs,
                schema_reloads=reloads,
            )


def _build_failed(run_id: int, entity: str, detail: str) -> RunFailed:
    found = diagnose(detail)
    return RunFailed(
        f"entity {entity} failed to build in run {run_id}"
        + (f": {found[0]}" if found else "")
        + f" (its app table is left as it was): {detail}",
        hint=(f"{found[1]}; then " if found else "fix the cause, then ")
        + "`diffmig run --resume` continues from this entity",
    )


def _run_failed(run_id: int, exc: psycopg.Error) -> RunFailed:
    """A database error that stopped the run, as a message that says what happened and what
    to do (instead of a raw traceback)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    found = diagnose(first, getattr(exc, "sqlstate", None))
    return RunFailed(
        f"run {run_id} stopped: {found[0] + ': ' if found else ''}{redact(first)}",
        hint=(f"{found[1]}; then " if found else "fix the cause, then ")
        + "`diffmig run --resume` continues from the last checkpoint",
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)
