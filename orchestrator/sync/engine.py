"""The sync engine: find what changed in each legacy table since the last sync, and apply it to
the staged mirror, range by range, with checkpoints and retries.

Detection, per table, cheapest first:
  0. One version checksum of the whole table on each side: count and bit_xor of a hash of
     (key, xmin). The source computes its own (one scan of key and xmin, no row text); the
     mirror's is the bit_xor of its buckets' (below). Equal: no row was written, nothing more.
  1. The same per bucket of 32 keys, from the same scan of the source, sent only when step 0
     differs. Buckets that agree hold no written row: nothing more is read of them.
  2. In the buckets that differ, first the rows written since the last sync's snapshot (one
     filtered scan: key, xmin, md5 fingerprint): a bucket they fully explain (the mirror's
     checksum with their keys' mirror versions swapped for theirs equals the source's) takes its
     changes from them. The other buckets (a deletion, no snapshot) are compared row by row:
     every row's (key, xmin) from the source against the mirror, then fingerprints of the rows
     whose xmin moved. Either way: new keys, deleted keys, and written rows whose fingerprint
     differs (modified) or does not (rewritten with the same values: not a change).
  3. Only the full rows of new and modified keys cross the wire, through the transport.
A key range whose mirror part is empty (first sync, appended keys) is loaded whole, without
steps 1 and 2, its buckets' checksums written in the same transaction as its rows (copy: by the
source, in the same snapshot; fdw: from the rows the same statement inserted). Work is done in ranges of 65,536 keys: a range's
rows, its checkpoint row and its counts commit in one destination transaction, so a range is
applied exactly once; a killed sync resumes from the checkpoints, and applying a range again
changes nothing.

All source reads of a sync share one REPEATABLE READ snapshot (a lost connection starts a new
one for the remaining work; whatever changed in between is found by the next sync).

The engine holds the connections, the retries and the run's bookkeeping, and composes
sync/detect.py (steps 0 to 2: the plan of ranges and the changes of each batch) with
sync/apply.py (step 3 and whole ranges: rows, bucket checksums, checkpoints).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import IsolationLevel

from orchestrator import db
from orchestrator.bookkeeping import analyses, mirrors, runs, syncs
from orchestrator.bookkeeping.retries import record_retry
from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.catalog import DeclaredTable, SourceTable, read_source_table, select_tables
from orchestrator.errors import ConfigError, RunFailed, hint_for
from orchestrator.settings import Settings, redact
from orchestrator.sync import detect
from orchestrator.sync.apply import Applier, begin_bulk_load, finish_load
from orchestrator.sync.detect import Plan, WorkRange, buckets_per_range
from orchestrator.sync.mirror import OWN_COLUMNS, MirrorTable, ensure_mirror, mirror_columns
from orchestrator.sync.transports import (
    CopyTransport,
    FdwTransport,
    Transport,
    fdw_unavailable_reason,
)

if TYPE_CHECKING:
    from orchestrator.sql_lineage import Project


@dataclass(frozen=True)
class TableProgress:
    """A table's sync after each batch of ranges: ranges done (resumed ones included), rows
    changed so far, and the source's rows."""

    table: str
    ranges_done: int
    ranges_total: int
    rows: int
    source_rows: int

    def fields(self) -> dict[str, int | str]:
        return {
            "table": self.table,
            "ranges_done": self.ranges_done,
            "ranges_total": self.ranges_total,
            "rows": self.rows,
            "source_rows": self.source_rows,
        }


Progress = Callable[[TableProgress], None]


@dataclass
class TableChanges:
    table: str
    source_rows: int = 0
    new: int = 0
    modified: int = 0
    deleted: int = 0
    rewritten_unchanged: int = 0
    # Differing buckets settled by the rows written since the last sync, and compared row by row.
    buckets_by_written_rows: int = 0
    buckets_row_by_row: int = 0
    ranges_total: int = 0
    ranges_done: int = 0
    ranges_resumed: int = 0
    seconds: float = 0.0
    schema_changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source_rows": self.source_rows,
            "new": self.new,
            "modified": self.modified,
            "deleted": self.deleted,
            "rewritten_unchanged": self.rewritten_unchanged,
            "buckets_by_written_rows": self.buckets_by_written_rows,
            "buckets_row_by_row": self.buckets_row_by_row,
            "ranges": self.ranges_total,
            "ranges_resumed": self.ranges_resumed,
            "seconds": round(self.seconds, 3),
            "schema_changes": self.schema_changes,
        }


@dataclass
class SyncReport:
    command: str
    run_id: int
    analysis_id: int
    transport: str
    transport_reason: str
    tables: list[TableChanges]
    retries: list[str]
    seconds: float
    resumed_from: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "run_id": self.run_id,
            "analysis_id": self.analysis_id,
            "transport": self.transport,
            "transport_reason": self.transport_reason,
            "resumed_from": self.resumed_from,
            "tables": [t.as_dict() for t in self.tables],
            "retries": self.retries,
            "elapsed_s": round(self.seconds, 3),
        }


class SyncEngine:
    """One sync (apply=True) or one detection (apply=False) over the declared legacy tables."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: str | None = None,
        progress: Progress | None = None,
        info: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.transport_choice = transport or settings.transport
        self.progress = progress or (lambda _event: None)
        self.info = info or (lambda _msg: None)
        self.src: psycopg.Connection | None = None
        self.dst: psycopg.Connection | None = None
        self.retries: list[str] = []
        self._pending_retries: list[tuple[str, int, str, float]] = []
        self.run_id = 0
        # The run whose id stamps the mirror rows (_synced_run): the first run of a chain of
        # resumed runs, so that a run killed and resumed stages its rows exactly as one
        # uninterrupted run would (the mapping compares tables' synced runs: a doctor's settings
        # synced by a later run than its user read as "changed after the first sync").
        self.stamp_run = 0
        self.analysis_id = 0
        self.transport: Transport = CopyTransport()
        self.transport_reason = ""
        self.buckets_per_range = buckets_per_range(settings.range_keys)
        self._lineage: Project | None = None  # parsed on first use

    # --- connections ------------------------------------------------------------------------

    def _close(self) -> None:
        if isinstance(self.transport, FdwTransport) and self.dst is not None:
            with contextlib.suppress(psycopg.Error):
                self.transport.release(self.dst)  # the user mapping holds the source password
        for conn in (self.src, self.dst):
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
        self.src = self.dst = None

    def _connections(self) -> tuple[psycopg.Connection, psycopg.Connection]:
        if self.src is None or self.src.closed or self.src.broken:
            src = db.connect(
                self.settings.source, autocommit=False, application_name="diffmig-sync"
            )
            src.isolation_level = IsolationLevel.REPEATABLE_READ
            src.read_only = True
            self.src = src
        if self.dst is None or self.dst.closed or self.dst.broken:
            self.dst = db.connect(self.settings.target, application_name="diffmig-sync")
            self._flush_retries()
        return self.src, self.dst

    def _on_retry(self, step: str) -> db.OnRetry:
        def record(attempt: int, exc: BaseException, sleep: float) -> None:
            cause = redact(
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            )
            self.retries.append(
                f"{step}: attempt {attempt} failed ({cause}); retried in {sleep:.1f}s"
            )
            self.info(f"{step}: connection lost ({cause}); retrying in {sleep:.1f}s")
            self._pending_retries.append((step, attempt, cause, sleep))
            self._close()

        return record

    def _flush_retries(self) -> None:
        if self.dst is None or not self.run_id:
            return
        while self._pending_retries:
            step, attempt, cause, sleep = self._pending_retries.pop(0)
            record_retry(self.dst, self.run_id, step, attempt, cause, sleep)

    # --- the run ----------------------------------------------------------------------------

    def run(
        self, *, tables: list[str] | None = None, apply: bool = True, resume: bool = False
    ) -> SyncReport:
        started = time.monotonic()
        command = "sync" if apply else "detect"
        declared = select_tables(tables, self.settings)
        _, dst = db.with_retries("connect", self._connections, on_retry=self._on_retry("connect"))
        ensure_schema(dst)
        resumed_from = runs.unfinished_run(dst, "sync") if apply else None
        if resume and resumed_from is None:
            self.info("no unfinished sync to resume: starting a new one")
        if apply and resumed_from is not None and not resume:
            self.info(
                f"sync run {resumed_from} did not finish; starting a new sync "
                "(use --resume to continue it from its checkpoints)"
            )
            resumed_from = None
        self._choose_transport(dst, declared)
        run = runs.start_run(
            dst,
            command,
            transport=self.transport.name,
            source_desc=self.settings.source.describe(),
            target_desc=self.settings.target.describe(),
            resumed_from=resumed_from,
        )
        self.run_id = run.run_id
        self._flush_retries()
        self.analysis_id = analyses.start_analysis(dst, self.run_id)
        chain = runs.resume_chain(dst, self.run_id, resumed_from)
        self.stamp_run = chain[-1]
        results: list[TableChanges] = []
        try:
            for table in declared:
                results.append(self._table_with_retries(table, command, apply, chain))
            src, dst = self._connections()
            src.commit()
            runs.finish_run(dst, self.run_id, "succeeded", keep_runs=self.settings.keep_runs)
        except KeyboardInterrupt:
            self._finish_after_error("interrupted", "interrupted by the user")
            raise
        except Exception as exc:
            self._finish_after_error("failed", redact(str(exc)))
            raise
        finally:
            self._close()
        return SyncReport(
            command=command,
            run_id=self.run_id,
            analysis_id=self.analysis_id,
            transport=self.transport.name,
            transport_reason=self.transport_reason,
            tables=results,
            retries=self.retries,
            seconds=time.monotonic() - started,
            resumed_from=resumed_from,
        )

    def sync_within_run(
        self, run_id: int, chain: list[int], tables: list[str]
    ) -> list[TableChanges]:
        """Sync `tables` as a step of a larger run (`diffmig run`); errors propagate to it."""
        declared = select_tables(tables, self.settings)
        _, dst = db.with_retries("connect", self._connections, on_retry=self._on_retry("connect"))
        self.run_id = run_id
        self.stamp_run = chain[-1] if chain else run_id
        if not self.transport_reason:
            self._choose_transport(dst, declared)
        self._flush_retries()
        self.analysis_id = analyses.start_analysis(dst, self.run_id)
        try:
            results = [self._table_with_retries(t, "sync", True, chain) for t in declared]
            src, _ = self._connections()
            src.commit()
        finally:
            self._close()
        return results

    def _table_with_retries(
        self, table: DeclaredTable, command: str, apply: bool, chain: list[int]
    ) -> TableChanges:
        step = f"{command} {table.name}"
        try:
            return db.with_retries(
                step,
                lambda: self._table(table, apply=apply, chain=chain),
                on_retry=self._on_retry(step),
            )
        except psycopg.Error as exc:
            sqlstate = getattr(exc, "sqlstate", None) or "no SQLSTATE"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunFailed(
                f"{step} failed in run {self.run_id} ({sqlstate}): {redact(first)}",
                hint=hint_for(
                    first,
                    sqlstate,
                    "`diffmig sync --resume` continues from the last checkpoint"
                    if apply
                    else "run the command again",
                ),
            ) from exc

    def _finish_after_error(self, status: str, error: str) -> None:
        try:
            self._close()
            with db.connection(self.settings.target) as conn:
                self.dst = conn
                self._flush_retries()
                runs.finish_run(conn, self.run_id, status, error, keep_runs=self.settings.keep_runs)
            self.dst = None
        except Exception:  # noqa: BLE001 - the original error matters more than this one
            self.info("could not record the run's failure in the bookkeeping")

    def _choose_transport(self, dst: psycopg.Connection, declared: list[DeclaredTable]) -> None:
        choice = self.transport_choice
        if choice == "copy":
            self.transport, self.transport_reason = CopyTransport(), "chosen with --transport copy"
            return
        fdw = FdwTransport(self.settings.source)
        reason = fdw_unavailable_reason(
            dst, fdw, declared[0].name if declared else "auth_user", create=choice == "fdw"
        )
        if reason is None:
            self.transport = fdw
            self.transport_reason = (
                "chosen with --transport fdw"
                if choice == "fdw"
                else "the destination can reach the source through postgres_fdw"
            )
        elif choice == "fdw":
            raise ConfigError(
                f"--transport fdw is not possible: {reason}",
                hint="use --transport copy (diffmig streams the rows itself) or fix the cause",
            )
        else:
            self.transport, self.transport_reason = CopyTransport(), f"copy, because {reason}"
        self.info(f"transport: {self.transport.name} ({self.transport_reason})")

    # --- one table --------------------------------------------------------------------------

    def _refuse_missing_mapped_columns(self, dst: psycopg.Connection, source: SourceTable) -> None:
        """Stop before syncing a table that lost (dropped or renamed) a column the staging models
        select: the mirror keeps its own copy of a column gone from the source, so the mapping
        would go on reading stale values, and NULL for every new row, without a word.

        A mirror that keeps no such column (the usual case) cannot feed stale values: a model
        reading a column the source lacks then fails in dbt for want of it. Only a first sync or
        a mirror with a column the source lost needs the models parsed (0.1 s)."""
        kept = mirror_columns(dst, source.name)
        if kept and kept <= {*source.column_names, *OWN_COLUMNS}:
            return
        if self._lineage is None:
            from orchestrator.project_index import load_index
            from orchestrator.sql_lineage import Project  # lazy: parses every model file

            self._lineage = Project(load_index(self.settings))
        self._lineage.use_source_columns({source.name: source.column_names})
        missing = sorted(self._lineage.missing_source_columns().get(source.name, set()))
        if not missing:
            return
        names = ", ".join(f"{source.name}.{c}" for c in missing)
        raise ConfigError(
            f"the mapping reads {names}, which the source no longer has (dropped or renamed); "
            "nothing was synced",
            hint="`diffmig schema diff` shows the source's change; update the staging model "
            f"of {source.name} (models/staging/legacy/) to the new column, then run again",
        )

    def _table(self, declared: DeclaredTable, *, apply: bool, chain: list[int]) -> TableChanges:
        """One table: detect what changed (sync/detect.py), apply it range by range
        (sync/apply.py), and record the table's analysis and sync."""
        started = time.monotonic()
        src, dst = self._connections()
        result = TableChanges(declared.name)
        if apply and syncs.synced_by_other_run(dst, chain, declared.name, self.run_id):
            self.info(f"{declared.name}: already synced by the run being resumed")
            return result
        mirror, flag_from = self._open_table(src, dst, declared, result, apply=apply)
        plan = self._plan(src, dst, mirror, apply=apply)
        result.source_rows = plan.source_rows
        result.ranges_total = len(plan.ranges)
        resumed = syncs.checkpointed_ranges(dst, chain, mirror.name) if apply else set()
        if apply:
            syncs.set_table_plan(dst, self.run_id, mirror.name, len(plan.ranges), plan.source_rows)
        pending = [work for work in plan.ranges if work.lo not in resumed]
        result.ranges_resumed = len(plan.ranges) - len(pending)
        self._work(src, dst, mirror, pending, result, apply=apply)
        if apply:
            finish_load(
                dst,
                mirror,
                stamp_run=self.stamp_run,
                every_range_loaded=plan.bulk and not result.ranges_resumed,
            )
        result.seconds = time.monotonic() - started
        self._close_table(dst, mirror, result, flag_from, apply=apply)
        return result

    def _open_table(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        declared: DeclaredTable,
        result: TableChanges,
        *,
        apply: bool,
    ) -> tuple[MirrorTable, int | None]:
        """The table's mirror, in line with the source's columns, and the xmin of the snapshot
        it is read in (a later sync takes the rows at least as new as it as written since, see
        detect._fetch_written_rows; a later snapshot after a lost connection only sends more
        buckets row by row, never hides a change)."""
        source = read_source_table(src, declared)
        snapshot = src.execute(
            "select txid_snapshot_xmin(txid_current_snapshot()) & 4294967295"
        ).fetchone()
        flag_from = int(snapshot[0]) if snapshot else None
        self._refuse_missing_mapped_columns(dst, source)
        with dst.transaction():
            mirror, changes = ensure_mirror(dst, source)
        result.schema_changes = changes
        for change in changes:
            self.info(f"schema change: {change}")
        self.transport.prepare(dst, mirror)
        if apply:
            syncs.start_table_sync(dst, self.run_id, mirror.name, self.transport.name)
        return mirror, flag_from

    def _plan(
        self, src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, *, apply: bool
    ) -> Plan:
        """Detection's plan; an empty mirror is a bulk load, prepared for when applying."""
        if not detect.mirror_is_empty(dst, mirror):
            return detect.plan_delta(
                src,
                dst,
                mirror,
                apply=apply,
                per_range=self.buckets_per_range,
                stamp_run=self.stamp_run,
            )
        plan = detect.plan_bulk(src, mirror, self.buckets_per_range)
        if apply:
            begin_bulk_load(dst, mirror)
        return plan

    def _work(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        pending: list[WorkRange],
        result: TableChanges,
        *,
        apply: bool,
    ) -> None:
        """The pending ranges, batch by batch, with a progress event after each."""
        applier = Applier(self.transport, self.run_id, self.stamp_run, self.buckets_per_range)
        for batch in detect.batches(pending):
            if batch[0].buckets is None:
                counts = (
                    applier.load_whole_range(src, dst, mirror, batch[0])
                    if apply
                    else detect.detect_whole_range(src, dst, mirror, batch[0], self.analysis_id)
                )
            else:
                counts, explained, compared = self._batch(
                    src, dst, mirror, batch, applier if apply else None
                )
                result.buckets_by_written_rows += explained
                result.buckets_row_by_row += compared
            result.new += counts.get("new", 0)
            result.modified += counts.get("modified", 0)
            result.deleted += counts.get("deleted", 0)
            result.rewritten_unchanged += counts.get("touched", 0)
            result.ranges_done += len(batch)
            self.progress(
                TableProgress(
                    table=mirror.name,
                    ranges_done=result.ranges_done + result.ranges_resumed,
                    ranges_total=result.ranges_total,
                    rows=result.new + result.modified + result.deleted,
                    source_rows=result.source_rows,
                )
            )

    def _batch(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        batch: list[WorkRange],
        applier: Applier | None,
    ) -> tuple[detect.Counts, int, int]:
        """Steps 2 and 3 for the differing buckets of a batch of ranges, in one transaction
        (about twenty statements, whatever the batch's size), with a checkpoint per range.
        Returns the counts of changes, and the buckets settled by written rows and row by row."""
        buckets = [b for work in batch for b in work.buckets or []]
        with dst.transaction():
            counts, explained, compared = detect.stage_changes(src, dst, mirror, buckets)
            analyses.record_changed_keys(dst, self.analysis_id, mirror.name)
            if applier is not None:
                applier.apply_batch(src, dst, mirror, batch, counts)
        return counts, explained, compared

    def _close_table(
        self,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        result: TableChanges,
        flag_from: int | None,
        *,
        apply: bool,
    ) -> None:
        """The table's analysis; when applied, its sync succeeded and the mirror's snapshot."""
        analyses.record_table(
            dst,
            self.analysis_id,
            mirror.name,
            source_rows=result.source_rows,
            new=result.new,
            modified=result.modified,
            deleted=result.deleted,
            seconds=result.seconds,
        )
        if apply:
            with dst.transaction():
                syncs.finish_table_sync(dst, self.run_id, mirror.name)
                mirrors.mark_synced(dst, mirror.name, self.run_id, flag_from)
