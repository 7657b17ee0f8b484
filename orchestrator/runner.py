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
from orchestrator.errors import Interrupted, RunFailed, UsageError, diagnose
from orchestrator.settings import Settings, redact

Events = Callable[[dict[str, Any]], None]

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
        self._marts: list[str] = []
        self._with_ancestors: set[str] = set()
        self.run_id = 0
        self._bookkeeping: psycopg.Connection | None = None
        self._sync_state: dict[str, Any] = {"entity": None, "totals": {}, "done": {}, "changed": {}}
        # The bookkeeping's planner statistics: all refreshed before the run's first build, then
        # those a build changed much (store.refresh_statistics).
        self._statistics_refreshed = False

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
            if not store.hold_run_lock(conn, "run"):
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

    def _emit(self, **event: Any) -> None:
        """Events for the console layer and the log file (cli/run.py): run_started, phase,
        progress, row_issue (one per open error the entity's build recorded, and per warning up
        to ROW_ISSUE_LOG_WARNINGS per reason), row_issues_omitted (the warnings of a reason past
        that), row_issues, entity_done, run_finished; each carries the run_id."""
        self.events({"run_id": self.run_id, **event} if self.run_id else event)

    def _sync_progress(self, event: dict[str, Any]) -> None:
        """The sync engine's progress after each range, as the entity's rows done and total
        (a table's rows checked are estimated from its ranges done)."""
        progress = self._sync_state
        table = str(event["table"])
        total = int(event.get("source_rows") or 0)
        ranges_total = int(event.get("ranges_total") or 0)
        done = total * int(event["ranges_done"]) // ranges_total if ranges_total else total
        progress["totals"][table] = total
        progress["done"][table] = done
        progress["changed"][table] = int(event.get("rows") or 0)
        self._emit(
            kind="progress",
            entity=progress["entity"],
            phase="sync",
            table=table,
            rows_done=sum(progress["done"].values()),
            rows_total=sum(progress["totals"].values()),
            rows_changed=sum(progress["changed"].values()),
        )

    def execute(self) -> RunOutcome:
        try:
            return self._execute()
        finally:
            self._close_db()

    def _execute(self) -> RunOutcome:
        from orchestrator.dbt_runner import DbtProject
        from orchestrator.sync.engine import SyncEngine

        started = time.monotonic()
        project = DbtProject(self.settings)
        self.info("reading the dbt project (entity order, models, legacy tables)")
        entities = project.entities()
        selected = self._select(entities)
        # A subset (--entities, --from) may leave out an entity whose build would have made
        # shared staging and key views a later selected one reads: each selected entity after
        # one left out also builds its ancestors, every other entity's table excluded.
        self._marts = [e.name for e in entities]
        chosen = {e.name for e in selected}
        first_left_out = next((i for i, e in enumerate(entities) if e.name not in chosen), None)
        self._with_ancestors = (
            set()
            if first_left_out is None
            else {e.name for e in entities[first_left_out:] if e.name in chosen}
        )
        with self._db() as dst:
            store.ensure_schema(dst)
            for dead in store.mark_dead_runs(dst, "run"):
                self.info(f"run {dead} stopped without recording an outcome: marked interrupted")
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
        engine = SyncEngine(
            self.settings, transport=self.transport, info=self.info, progress=self._sync_progress
        )
        synced: set[str] = set()
        synced_changes: set[str] = set()
        self._synced_changes = synced_changes
        self.run_id = run.run_id
        self._emit(kind="run_started", entities=[e.name for e in selected])
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
            self._snapshot(project, engine, synced_changes | self._changed_by(chain[1:]))
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
                self._finish(run.run_id, "failed", redact(str(exc)))
            if isinstance(exc, psycopg.Error):
                raise _run_failed(run.run_id, exc) from exc
            raise
        finally:
            outcome.seconds = time.monotonic() - started
            outcome.transport = engine.transport.name
            self._emit(kind="run_finished", status=outcome.status, seconds=outcome.seconds)
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
        with self._db() as conn:
            row = conn.execute(
                f"select pause_requested_at from {SCHEMA}.runs where run_id = %s", (run_id,)
            ).fetchone()
        if row and row[0] is not None:
            raise _PauseRequested

    def _step(self, run_id: int, entity: str, **columns: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in columns)
        with self._db() as conn:
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
        tables = [t for t in entity.legacy_tables if t not in synced]
        estimates = self._mirror_estimates(tables)
        self._sync_state = {"entity": entity.name, "totals": estimates, "done": {}, "changed": {}}
        self._emit(
            kind="phase",
            entity=entity.name,
            phase="sync",
            tables=tables,
            rows_total=sum(estimates.values()) or None,
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
        since = 0 if self.mode == "full" else self._watermark(entity.name)
        to_map = self._rows_to_map(entity, since)
        has_work = not since or bool(to_map) or self._drift_to_reconcile(entity)
        self._emit(
            kind="phase",
            entity=entity.name,
            phase="build",
            rows_synced=outcome.rows_synced,
            rows_total=to_map,
        )
        if not has_work:
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
        with self._db() as dst:
            store.refresh_statistics(dst, always=not self._statistics_refreshed)
        self._statistics_refreshed = True
        nodes_done = [0]

        def node_finished(node: dict[str, Any]) -> None:
            # The mart's one statement maps every row to map: when it ends, they are done
            # (its rows_affected are those it changed); the tests run after it.
            nodes_done[0] += 1
            mart = node["name"] == entity.name
            self._emit(
                kind="progress",
                entity=entity.name,
                phase="build",
                node=node["name"],
                node_status=node["status"],
                nodes_done=nodes_done[0],
                rows_done=(to_map or 0) if mart else None,
                rows_applied=node["rows_affected"] if mart else None,
            )

        ancestors = entity.name in self._with_ancestors
        try:
            result = project.build(
                [*entity.nodes, f"+{entity.name}"] if ancestors else list(entity.nodes),
                exclude=[m for m in self._marts if m != entity.name] if ancestors else None,
                vars_={"since_run": since, "run_id": run_id, "reconcile": self.reconcile},
                on_node=node_finished,
            )
        except RunFailed as exc:  # dbt itself failed (lost its connection, say): say where
            raise RunFailed(
                f"entity {entity.name} failed to build in run {run_id}: {exc.message}",
                hint=exc.hint,
            ) from exc
        build_seconds = time.monotonic() - build_started
        if not result.success:
            # dbt's failure may be the destination's (restarted, say): the bookkeeping reconnects.
            self._close_db()
        self._record_results(run_id, entity.name, result)
        self._report_row_issues(run_id, entity.name)
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
            found = diagnose(outcome.detail)
            raise RunFailed(
                f"entity {entity.name} failed to build in run {run_id}"
                + (f": {found[0]}" if found else "")
                + f" (its app table is left as it was): {outcome.detail}",
                hint=(f"{found[1]}; then " if found else "fix the cause, then ")
                + "`diffmig run --resume` continues from this entity",
            )
        if outcome.tests_failed:
            outcome.detail = "tests failed: " + ", ".join(
                n.name for n in result.failed if n.resource_type == "test"
            )
        self._set_watermark(entity.name, run_id)
        # The earlier scripts' log row before the step is marked done: a crash in between makes
        # the resumed run build the entity again (a second row), never leaves it without one.
        self._control(entity.name, "completed", outcome, None)
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
        self._emit(
            kind="entity_done",
            entity=entity.name,
            rows_applied=outcome.rows_applied,
            rows_synced=outcome.rows_synced,
            seconds=outcome.seconds,
        )
        return outcome

    def _drift_to_reconcile(self, entity: Any) -> bool:
        """With --reconcile, whether the entity has open drift to apply although no mirror row
        changed (every other cause of a change, a held-back row's parent arriving included,
        starts with a mirror row synced after the entity's watermark: `_rows_to_map`)."""
        if not self.reconcile:
            return False
        with self._db() as conn:
            row = conn.execute(
                f"select 1 from {SCHEMA}.row_issues where entity = %s and resolved_at is null "
                "and reason = 'drift' limit 1",
                (entity.name,),
            ).fetchone()
        return row is not None

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

    def _rows_to_map(self, entity: Any, since: int) -> int | None:
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
        all are in diffmig.row_issues). Two queries, the rows streamed through a
        server-side cursor, so memory stays flat whatever the count."""
        counts = {"error": 0, "warning": 0}
        with self._db() as conn:
            per_reason = conn.execute(
                f"select severity, reason, count(*) from {SCHEMA}.row_issues "
                "where run_id = %s and entity = %s and resolved_at is null "
                "group by severity, reason order by severity, reason",
                (run_id, entity),
            ).fetchall()
            if not per_reason:
                return
            with conn.transaction(), conn.cursor(name="diffmig_row_issues") as cursor:
                cursor.itersize = 2000
                cursor.execute(
                    "select legacy_key, table_name, severity, reason, detail from ("
                    "select legacy_key, table_name, severity, reason, detail, row_number() over "
                    "(partition by severity, reason order by legacy_key) as rank_in_reason "
                    f"from {SCHEMA}.row_issues "
                    "where run_id = %s and entity = %s and resolved_at is null) as ranked "
                    "where severity = 'error' or rank_in_reason <= %s "
                    "order by severity, reason, legacy_key",
                    (run_id, entity, ROW_ISSUE_LOG_WARNINGS),
                )
                for legacy_key, table, severity, reason, detail in cursor:
                    self._emit(
                        kind="row_issue",
                        entity=entity,
                        table=table,
                        legacy_key=legacy_key,
                        severity=severity,
                        reason=reason,
                        detail=detail,
                    )
        for severity, reason, count in per_reason:
            counts[severity] = counts.get(severity, 0) + int(count)
            if severity != "error" and count > ROW_ISSUE_LOG_WARNINGS:
                self._emit(
                    kind="row_issues_omitted",
                    entity=entity,
                    severity=severity,
                    reason=reason,
                    logged=ROW_ISSUE_LOG_WARNINGS,
                    omitted=int(count) - ROW_ISSUE_LOG_WARNINGS,
                )
        self._emit(
            kind="row_issues",
            entity=entity,
            errors=counts["error"],
            warnings=counts["warning"],
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

    def _record_results(self, run_id: int, entity: str, result: Any) -> None:
        with self._db() as conn, conn.cursor() as cur:
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

    def _changed_by(self, runs: list[int]) -> set[str]:
        """The legacy tables whose mirror changed in `runs` (the runs a resumed run continues:
        their history snapshot, taken at a run's end, is still due)."""
        if not runs:
            return set()
        with self._db() as conn:
            return {
                str(r[0])
                for r in conn.execute(
                    f"select table_name from {SCHEMA}.table_syncs where run_id = any(%s) "
                    "and rows_new + rows_modified + rows_deleted > 0",
                    (runs,),
                )
            }

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
        with self._db() as conn:
            row = conn.execute(
                f"select applied_run from {SCHEMA}.entity_watermarks where entity = %s", (entity,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _set_watermark(self, entity: str, run_id: int) -> None:
        with self._db() as conn:
            conn.execute(
                f"insert into {SCHEMA}.entity_watermarks (entity, applied_run) values (%s, %s) "
                "on conflict (entity) do update set applied_run = excluded.applied_run, "
                "applied_at = now()",
                (entity, run_id),
            )

    def _held_back(self, entity: str) -> int:
        with self._db() as conn:
            row = conn.execute(
                f"select count(distinct legacy_key) from {SCHEMA}.row_issues where entity = %s "
                "and resolved_at is null and severity = 'error'",
                (entity,),
            ).fetchone()
        return int(row[0]) if row else 0

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
        self, run_id: int, status: str, error: str | None, transport: str | None = None
    ) -> None:
        with self._db() as conn:
            store.finish_run(conn, run_id, status, error, keep_runs=self.settings.keep_runs)
            if transport:
                conn.execute(
                    f"update {SCHEMA}.runs set transport = %s where run_id = %s",
                    (transport, run_id),
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


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
