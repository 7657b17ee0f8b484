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
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql

from orchestrator import db
from orchestrator.bookkeeping import store
from orchestrator.bookkeeping.store import SCHEMA
from orchestrator.catalog import DeclaredTable, SourceTable, read_source_table, select_tables
from orchestrator.errors import ConfigError, RunFailed
from orchestrator.settings import Settings, redact
from orchestrator.sync.mirror import (
    BUCKET_SHIFT,
    BUCKET_WIDTH,
    BUCKETS_PER_RANGE,
    OWN_COLUMNS,
    MirrorTable,
    buckets_valid,
    drop_load_indexes,
    ensure_load_indexes,
    ensure_mirror,
    int_array,
    mirror_columns,
    range_bounds,
    refresh_buckets,
    set_buckets_valid,
    source_xmin,
    version_hash,
)
from orchestrator.sync.transports import (
    CopyTransport,
    FdwTransport,
    Transport,
    fdw_unavailable_reason,
    stream_copy,
)


def buckets_per_range() -> int:
    """Keys per checkpointed range, from DIFFMIG_RANGE_KEYS (a multiple of the bucket width;
    smaller ranges checkpoint more often, larger ones move bulk loads in fewer transactions)."""
    raw = os.environ.get("DIFFMIG_RANGE_KEYS", "")
    if not raw:
        return BUCKETS_PER_RANGE
    try:
        keys = int(raw)
    except ValueError:
        raise ConfigError(f"DIFFMIG_RANGE_KEYS must be a number, got {raw!r}") from None
    if keys < BUCKET_WIDTH or keys % BUCKET_WIDTH:
        raise ConfigError(f"DIFFMIG_RANGE_KEYS must be a multiple of {BUCKET_WIDTH}, got {keys}")
    return keys // BUCKET_WIDTH


_HINTS = {
    "53100": "the destination is out of disk space: free some (or grow the disk)",
    "53200": "the destination ran out of memory",
    "57014": "a statement hit statement_timeout: raise DIFFMIG_STATEMENT_TIMEOUT "
    "(0 = none, the default) or retry at a quieter time",
    "25006": "the destination is read-only (a full disk on hosted Supabase): add disk space, "
    "make it writable again",
    "42501": "the destination role lacks a privilege: `diffmig doctor` lists what it needs",
}


def _hint_for(sqlstate: str, apply: bool) -> str:
    cause = _HINTS.get(sqlstate, "fix the cause named above")
    if apply:
        return f"{cause}; then `diffmig sync --resume` continues from the last checkpoint"
    return f"{cause}; then run the command again"


Progress = Callable[[dict[str, Any]], None]

# Differing buckets worked on in one transaction: consecutive ranges are taken together up to
# this many (a range's work is about twenty statements whatever its size; with 1 % of the rows
# changed all over the key range, every range of a large table has some).
BATCH_BUCKETS = 16384


def _batches(ranges: list[WorkRange], budget: int) -> list[list[WorkRange]]:
    """Ranges loaded whole stay alone; consecutive ranges with differing buckets go together
    while their buckets fit the budget."""
    batches: list[list[WorkRange]] = []
    size = 0
    for work in ranges:
        if work.buckets is None:
            batches.append([work])
            size = budget  # nothing joins a whole range
            continue
        if batches and size + len(work.buckets) <= budget:
            batches[-1].append(work)
            size += len(work.buckets)
        else:
            batches.append([work])
            size = len(work.buckets)
    return batches


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


@dataclass(frozen=True)
class WorkRange:
    index: int
    lo: int
    hi: int
    buckets: list[int] | None  # None: the mirror has nothing here, load the range whole


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
        self.buckets_per_range = buckets_per_range()
        self._lineage: Any = None  # sql_lineage.Project, parsed on first use

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
            store.record_retry(self.dst, self.run_id, step, attempt, cause, sleep)

    # --- the run ----------------------------------------------------------------------------

    def run(
        self, *, tables: list[str] | None = None, apply: bool = True, resume: bool = False
    ) -> SyncReport:
        started = time.monotonic()
        command = "sync" if apply else "detect"
        declared = select_tables(tables)
        _, dst = db.with_retries("connect", self._connections, on_retry=self._on_retry("connect"))
        store.ensure_schema(dst)
        resumed_from = store.unfinished_run(dst, "sync") if apply else None
        if resume and resumed_from is None:
            self.info("no unfinished sync to resume: starting a new one")
        if apply and resumed_from is not None and not resume:
            self.info(
                f"sync run {resumed_from} did not finish; starting a new sync "
                "(use --resume to continue it from its checkpoints)"
            )
            resumed_from = None
        self._choose_transport(dst, declared)
        run = store.start_run(
            dst,
            command,
            transport=self.transport.name,
            source_desc=self.settings.source.describe(),
            target_desc=self.settings.target.describe(),
            resumed_from=resumed_from,
        )
        self.run_id = run.run_id
        self._flush_retries()
        row = dst.execute(
            f"insert into {SCHEMA}.analyses (run_id, basis) values (%s, 'mirror') "
            "returning analysis_id",
            (self.run_id,),
        ).fetchone()
        assert row is not None
        self.analysis_id = int(row[0])
        chain = self._run_chain(dst, resumed_from)
        self.stamp_run = chain[-1]
        results: list[TableChanges] = []
        try:
            for table in declared:
                results.append(self._table_with_retries(table, command, apply, chain))
            src, dst = self._connections()
            src.commit()
            store.finish_run(dst, self.run_id, "succeeded")
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
        declared = select_tables(tables)
        _, dst = db.with_retries("connect", self._connections, on_retry=self._on_retry("connect"))
        self.run_id = run_id
        self.stamp_run = chain[-1] if chain else run_id
        if not self.transport_reason:
            self._choose_transport(dst, declared)
        self._flush_retries()
        row = dst.execute(
            f"insert into {SCHEMA}.analyses (run_id, basis) values (%s, 'mirror') "
            "returning analysis_id",
            (self.run_id,),
        ).fetchone()
        assert row is not None
        self.analysis_id = int(row[0])
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
                hint=_hint_for(sqlstate, apply),
            ) from exc

    def _finish_after_error(self, status: str, error: str) -> None:
        try:
            self._close()
            with db.connection(self.settings.target) as conn:
                self.dst = conn
                self._flush_retries()
                store.finish_run(conn, self.run_id, status, error)
            self.dst = None
        except Exception:  # noqa: BLE001 - the original error matters more than this one
            self.info("could not record the run's failure in the bookkeeping")

    def _run_chain(self, dst: psycopg.Connection, resumed_from: int | None) -> list[int]:
        chain = [self.run_id]
        current = resumed_from
        while current is not None:
            chain.append(current)
            row = dst.execute(
                f"select resumed_from from {SCHEMA}.runs where run_id = %s", (current,)
            ).fetchone()
            current = row[0] if row else None
        return chain

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
            from orchestrator.sql_lineage import Project  # lazy: parses every model file

            self._lineage = Project()
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
        started = time.monotonic()
        src, dst = self._connections()
        result = TableChanges(declared.name)
        done = dst.execute(
            f"select 1 from {SCHEMA}.table_syncs where run_id = any(%s) and table_name = %s "
            "and status = 'succeeded' and run_id <> %s",
            (chain, declared.name, self.run_id),
        ).fetchone()
        if apply and done:
            self.info(f"{declared.name}: already synced by the run being resumed")
            return result
        source = read_source_table(src, declared)
        # The snapshot this table is read in: a later sync takes the rows at least as new as
        # its xmin as written since (see _written_rows); a later snapshot after a lost
        # connection only sends more buckets row by row, never hides a change.
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
            dst.execute(
                f"insert into {SCHEMA}.table_syncs (run_id, table_name, transport) "
                "values (%s, %s, %s) on conflict (run_id, table_name) do update set "
                "status = 'running', error = null",
                (self.run_id, mirror.name, self.transport.name),
            )
        ranges, source_rows, bulk = self._plan(src, dst, mirror, apply=apply)
        result.source_rows = source_rows
        result.ranges_total = len(ranges)
        resumed = (
            {
                r[0]
                for r in dst.execute(
                    f"select range_lo from {SCHEMA}.checkpoints where run_id = any(%s) "
                    "and table_name = %s",
                    (chain, mirror.name),
                )
            }
            if apply
            else set()
        )
        if apply:
            dst.execute(
                f"update {SCHEMA}.table_syncs set ranges_total = %s, source_rows = %s "
                "where run_id = %s and table_name = %s",
                (len(ranges), source_rows, self.run_id, mirror.name),
            )
        pending = [work for work in ranges if work.lo not in resumed]
        result.ranges_resumed = len(ranges) - len(pending)
        for batch in _batches(pending, BATCH_BUCKETS):
            if batch[0].buckets is None:
                counts = self._whole_range(src, dst, mirror, batch[0], apply=apply)
            else:
                counts, explained, compared = self._ranges(src, dst, mirror, batch, apply=apply)
                result.buckets_by_written_rows += explained
                result.buckets_row_by_row += compared
            result.new += counts.get("new", 0)
            result.modified += counts.get("modified", 0)
            result.deleted += counts.get("deleted", 0)
            result.rewritten_unchanged += counts.get("touched", 0)
            result.ranges_done += len(batch)
            self.progress(
                {
                    "table": mirror.name,
                    "ranges_done": result.ranges_done + result.ranges_resumed,
                    "ranges_total": result.ranges_total,
                    "rows": result.new + result.modified + result.deleted,
                    "source_rows": source_rows,
                }
            )
        if apply and not buckets_valid(dst, mirror):
            with dst.transaction():
                ensure_load_indexes(dst, mirror, self.stamp_run)
                if bulk and not result.ranges_resumed:
                    # Every range of this load wrote its buckets' checksums with its rows.
                    set_buckets_valid(dst, mirror, True)
                else:
                    refresh_buckets(dst, mirror)
            dst.execute(sql.SQL("analyze {}").format(mirror.ident))
        result.seconds = time.monotonic() - started
        dst.execute(
            f"insert into {SCHEMA}.analysis_tables (analysis_id, table_name, source_rows, "
            "rows_new, rows_modified, rows_deleted, seconds) values (%s, %s, %s, %s, %s, %s, %s) "
            "on conflict (analysis_id, table_name) do update set source_rows = excluded.source_rows, "
            "rows_new = excluded.rows_new, rows_modified = excluded.rows_modified, "
            "rows_deleted = excluded.rows_deleted, seconds = excluded.seconds",
            (
                self.analysis_id,
                mirror.name,
                source_rows,
                result.new,
                result.modified,
                result.deleted,
                round(result.seconds, 3),
            ),
        )
        if apply:
            with dst.transaction():
                dst.execute(
                    f"update {SCHEMA}.table_syncs set status = 'succeeded', finished_at = now() "
                    "where run_id = %s and table_name = %s",
                    (self.run_id, mirror.name),
                )
                dst.execute(
                    f"update {SCHEMA}.mirror_tables set last_synced_run = %s, last_synced_at = now(), "
                    "flag_from_xmin = %s where table_name = %s",
                    (self.run_id, flag_from, mirror.name),
                )
        return result

    def _plan(
        self, src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, *, apply: bool
    ) -> tuple[list[WorkRange], int, bool]:
        """The key ranges to work on, the source's row count, and whether this is a bulk load
        (the mirror is empty: every range is loaded whole)."""
        key = sql.Identifier(mirror.key)
        width = BUCKET_WIDTH * self.buckets_per_range
        empty = (
            dst.execute(sql.SQL("select 1 from {} limit 1").format(mirror.ident)).fetchone() is None
        )
        if empty:
            row = src.execute(
                sql.SQL("select min({k}), max({k}), count(*) from {t}").format(
                    k=key, t=mirror.source_ident
                )
            ).fetchone()
            assert row is not None
            lo, hi, source_rows = row[0], row[1], int(row[2])
            if apply:
                # A bulk load: the indexes are built once at the end (see _table), and each
                # range writes its buckets' checksums (the table's are valid once all have).
                with dst.transaction():
                    set_buckets_valid(dst, mirror, False)
                    dst.execute(
                        f"delete from {SCHEMA}.mirror_buckets where table_name = %s",
                        (mirror.name,),
                    )
                    drop_load_indexes(dst, mirror)
            if not source_rows:
                return [], 0, True
            return (
                [
                    WorkRange(i, *range_bounds(i, self.buckets_per_range), None)
                    for i in range(int(lo) // width, int(hi) // width + 1)
                ],
                source_rows,
                True,
            )

        if apply or not buckets_valid(dst, mirror):
            # A resumed first load may have left the mirror without its indexes or checksums.
            with dst.transaction():
                ensure_load_indexes(dst, mirror, self.stamp_run)
                if not buckets_valid(dst, mirror):
                    refresh_buckets(dst, mirror)

        # Steps 0 and 1 in one scan of the source: its per-bucket version checksums, sent only
        # when its whole-table checksum (a first row, bucket null) differs from the mirror's.
        mirrored = dst.execute(
            f"select coalesce(sum(live_rows), 0)::bigint, coalesce(bit_xor(version_xor), 0) "
            f"from {SCHEMA}.mirror_buckets where table_name = %s",
            (mirror.name,),
        ).fetchone()
        assert mirrored is not None
        dst.execute("drop table if exists pg_temp.diffmig_l1")
        dst.execute("create temp table diffmig_l1 (bucket bigint, n bigint, h bigint)")
        stream_copy(
            src,
            dst,
            sql.SQL(
                "with b as materialized (select {b}::bigint as bucket, count(*) as n, "
                "bit_xor({h}) as h from {t} group by 1), "
                "total as (select coalesce(sum(n), 0)::bigint as n, coalesce(bit_xor(h), 0) as h "
                "from b) "
                "select null::bigint, n, h from total union all "
                "select bucket, n, h from b "
                "where (select (n, h) <> ({mn}::bigint, {mh}::bigint) from total)"
            ).format(
                b=mirror.bucket_of(),
                h=version_hash(key, source_xmin()),
                t=mirror.source_ident,
                mn=sql.Literal(int(mirrored[0])),
                mh=sql.Literal(int(mirrored[1])),
            ),
            sql.SQL("copy pg_temp.diffmig_l1 from stdin (format binary)"),
        )
        total = dst.execute(
            "delete from pg_temp.diffmig_l1 where bucket is null returning n, h"
        ).fetchone()
        assert total is not None
        source_rows = int(total[0])
        if (source_rows, int(total[1])) == (int(mirrored[0]), int(mirrored[1])):
            return [], source_rows, False
        rows = dst.execute(
            f"select coalesce(s.bucket, m.bucket), coalesce(m.all_rows, 0) "
            f"from pg_temp.diffmig_l1 s full join (select * from {SCHEMA}.mirror_buckets "
            "where table_name = %s) m on m.bucket = s.bucket "
            "where s.n is distinct from nullif(m.live_rows, 0) "
            "or s.h is distinct from m.version_xor order by 1",
            (mirror.name,),
        ).fetchall()
        occupied = {
            int(r[0])
            for r in dst.execute(
                f"select distinct floor(bucket::numeric / %s)::bigint from {SCHEMA}.mirror_buckets "
                "where table_name = %s and all_rows > 0",
                (self.buckets_per_range, mirror.name),
            )
        }
        # diffmig_l1 stays for the table's ranges: after a range is applied, the mirror's
        # checksums of its buckets are the source's (same snapshot), see _ranges.
        dst.execute("create index on pg_temp.diffmig_l1 (bucket)")
        self._fetch_written_rows(src, dst, mirror, bool(rows))
        by_range: dict[int, list[int]] = {}
        for bucket, _ in rows:
            by_range.setdefault(int(bucket) // self.buckets_per_range, []).append(int(bucket))
        ranges = [
            WorkRange(
                i, *range_bounds(i, self.buckets_per_range), buckets if i in occupied else None
            )
            for i, buckets in sorted(by_range.items())
        ]
        return ranges, source_rows, False

    def _fetch_written_rows(
        self, src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, needed: bool
    ) -> None:
        """The rows written since the last sync's snapshot, with their version and fingerprint,
        into pg_temp.diffmig_written for _written_rows: one filtered scan of the source, only
        when some bucket differs and the last sync left its snapshot (its xmin: rows at least
        as new, by age() from this transaction's id, were or may have been written since)."""
        dst.execute("drop table if exists pg_temp.diffmig_written")
        dst.execute(
            "create temp table diffmig_written (bucket bigint, id bigint, ver bigint, fp uuid)"
        )
        row = dst.execute(
            f"select flag_from_xmin from {SCHEMA}.mirror_tables where table_name = %s",
            (mirror.name,),
        ).fetchone()
        if not needed or row is None or row[0] is None:
            return
        key = sql.Identifier(mirror.key)
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select {b}::bigint, s.{k}::bigint, {x}, {fp} from {t} as s "
                "where age(s.xmin) < (select age({since}::text::xid))"
            ).format(
                b=mirror.bucket_of("s"),
                k=key,
                x=source_xmin("s"),
                fp=mirror.fingerprint("s"),
                t=mirror.source_ident,
                since=sql.Literal(str(row[0])),
            ),
            sql.SQL("copy pg_temp.diffmig_written from stdin (format binary)"),
        )
        dst.execute("create index on pg_temp.diffmig_written (bucket)")
        dst.execute("analyze pg_temp.diffmig_written")

    # --- one range --------------------------------------------------------------------------

    def _ranges(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        batch: list[WorkRange],
        *,
        apply: bool,
    ) -> tuple[dict[str, int], int, int]:
        """Steps 2 and 3 for the differing buckets of a batch of ranges, in one transaction
        (about twenty statements, whatever the batch's size), with a checkpoint per range.
        Returns the counts of changes, and the buckets settled by written rows and row by row."""
        buckets = [b for work in batch for b in work.buckets or []]
        with dst.transaction():
            dst.execute(
                "create temp table diffmig_changes (id bigint, ver bigint, change text) "
                "on commit drop"
            )
            verified = self._written_rows(dst, mirror, buckets)
            rest = sorted(set(buckets) - verified)
            if rest:
                self._bucket_rows(src, dst, mirror, rest)
            counts = {
                str(change): int(n)
                for change, n in dst.execute(
                    "select change, count(*) from pg_temp.diffmig_changes group by 1"
                ).fetchall()
            }
            dst.execute(
                f"insert into {SCHEMA}.analysis_keys (analysis_id, table_name, legacy_id, change) "
                "select %s, %s, id, change from pg_temp.diffmig_changes where change <> 'touched' "
                "on conflict do nothing",
                (self.analysis_id, mirror.name),
            )
            if apply:
                self._apply_changes(src, dst, mirror)
                dst.execute(
                    f"insert into {SCHEMA}.mirror_buckets as m (table_name, bucket, live_rows, "
                    "version_xor, all_rows) "
                    "select %s, b.bucket, coalesce(s.n, 0), s.h, coalesce(o.all_rows, 0) "
                    "+ coalesce(nw.n, 0) from unnest(%s::bigint[]) b(bucket) "
                    "left join pg_temp.diffmig_l1 s on s.bucket = b.bucket "
                    f"left join {SCHEMA}.mirror_buckets o on o.table_name = %s "
                    "and o.bucket = b.bucket "
                    "left join (select id >> %s as bucket, count(*) as n from "
                    "pg_temp.diffmig_changes where change = 'new' group by 1) nw "
                    "on nw.bucket = b.bucket "
                    "on conflict (table_name, bucket) do update set live_rows = excluded.live_rows, "
                    "version_xor = excluded.version_xor, all_rows = excluded.all_rows",
                    (mirror.name, buckets, mirror.name, BUCKET_SHIFT),
                )
                if len(batch) == 1:
                    self._checkpoint(dst, mirror, batch, [counts])
                else:
                    self._checkpoint(dst, mirror, batch, self._counts_per_range(dst, batch))
        return counts, len(verified), len(rest)

    def _written_rows(
        self, dst: psycopg.Connection, mirror: MirrorTable, buckets: list[int]
    ) -> set[int]:
        """Step 2 from the rows written since the last sync (_fetch_written_rows): the buckets
        they explain, whose changes then go into diffmig_changes.

        A bucket is explained when the mirror's checksum of the bucket, with the mirror's
        versions of those keys taken out and the source's put in, is the source's checksum
        (count and bit_xor alike): every other row of the bucket is then the same version on
        both sides, and nothing was deleted. A bucket that is not (a deletion, or no snapshot to
        start from) is compared row by row (_bucket_rows). In a table where 1 % of the rows
        changed all over the key range, this sends 1 % of its rows' versions instead of the
        versions of every row of a quarter of its buckets."""
        key = sql.Identifier(mirror.key)
        dst.execute(
            "create temp table diffmig_flagged on commit drop as "
            "select bucket, id, ver, fp from pg_temp.diffmig_written where bucket = any(%s)",
            (buckets,),
        )
        dst.execute("analyze pg_temp.diffmig_flagged")
        dst.execute(
            sql.SQL(
                "create temp table diffmig_verified on commit drop as "
                "select s.bucket from pg_temp.diffmig_l1 as s "
                "left join {s}.mirror_buckets as m on m.table_name = {name} "
                "and m.bucket = s.bucket "
                "left join (select f.bucket, count(*) as flagged, "
                "count(x.{k}) filter (where x._deleted_at is null) as replaced, "
                "bit_xor({h_new}) as x_new, "
                "bit_xor({h_old}) filter (where x._deleted_at is null) as x_old "
                "from pg_temp.diffmig_flagged as f left join {t} as x on x.{k} = f.id "
                "group by f.bucket) as a on a.bucket = s.bucket "
                "where s.bucket = any({buckets}) "
                "and coalesce(m.live_rows, 0) + coalesce(a.flagged, 0) "
                "- coalesce(a.replaced, 0) = s.n "
                "and (coalesce(m.version_xor, 0) # coalesce(a.x_old, 0) # coalesce(a.x_new, 0)) "
                "= s.h"
            ).format(
                s=sql.Identifier(SCHEMA),
                name=sql.Literal(mirror.name),
                k=key,
                h_new=version_hash(sql.SQL("f.id"), sql.SQL("f.ver")),
                h_old=version_hash(sql.SQL("x.{}").format(key), sql.SQL("x._source_xmin")),
                t=mirror.ident,
                buckets=int_array(buckets),
            )
        )
        dst.execute(
            sql.SQL(
                "insert into pg_temp.diffmig_changes (id, ver, change) "
                "select f.id, f.ver, case "
                "when x.{k} is null then 'new' "
                "when x._deleted_at is not null then 'modified' "
                "when f.fp is distinct from {fp} then 'modified' "
                "else 'touched' end "
                "from pg_temp.diffmig_flagged as f "
                "join pg_temp.diffmig_verified as v on v.bucket = f.bucket "
                "left join {t} as x on x.{k} = f.id "
                "where x.{k} is null or x._deleted_at is not null "
                "or f.ver is distinct from x._source_xmin"
            ).format(k=key, fp=mirror.fingerprint("x"), t=mirror.ident)
        )
        return {int(r[0]) for r in dst.execute("select bucket from pg_temp.diffmig_verified")}

    def _bucket_rows(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        buckets: list[int],
    ) -> None:
        """Step 2 row by row for the buckets the written rows did not explain: every row's
        version of these buckets from the source against the mirror's, then fingerprints of
        the rows whose version moved."""
        key = sql.Identifier(mirror.key)
        dst.execute("create temp table diffmig_l2 (id bigint, ver bigint) on commit drop")
        # Per-row versions (key, xmin) of the buckets: no row text.
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select s.{k}::bigint, {x} from unnest({buckets}) as b(bucket) "
                "join {t} as s on s.{k} between b.bucket * {w} and b.bucket * {w} + {w1}"
            ).format(
                k=key,
                x=source_xmin("s"),
                t=mirror.source_ident,
                w=sql.Literal(BUCKET_WIDTH),
                w1=sql.Literal(BUCKET_WIDTH - 1),
                buckets=int_array(buckets),
            ),
            sql.SQL("copy pg_temp.diffmig_l2 from stdin (format binary)"),
        )
        # Temp tables get no statistics by themselves; without them the join below is
        # planned for millions of rows (a 64-batch hash on the wrong side).
        dst.execute("analyze pg_temp.diffmig_l2")
        dst.execute(
            sql.SQL(
                "insert into pg_temp.diffmig_changes (id, ver, change) "
                "select coalesce(s.id, m.{k}) as id, s.ver, case "
                "when m.{k} is null then 'new' "
                "when s.id is null then 'deleted' "
                "when m._deleted_at is not null then 'modified' "
                "else 'check' end as change "
                "from pg_temp.diffmig_l2 s full join ("
                "select x.{k}, x._deleted_at, x._source_xmin from unnest({buckets}) as b(bucket) "
                "join {t} as x on x.{k} between b.bucket * {w} and b.bucket * {w} + {w1}"
                ") m on m.{k} = s.id "
                "where (s.id is null and m._deleted_at is null) or (s.id is not null and "
                "(m.{k} is null or m._deleted_at is not null "
                "or s.ver is distinct from m._source_xmin))"
            ).format(
                k=key,
                t=mirror.ident,
                w=sql.Literal(BUCKET_WIDTH),
                w1=sql.Literal(BUCKET_WIDTH - 1),
                buckets=int_array(buckets),
            )
        )
        # Fingerprints of only the rows written since the last sync.
        check = [
            int(r[0])
            for r in dst.execute("select id from pg_temp.diffmig_changes where change = 'check'")
        ]
        if not check:
            return
        dst.execute("create temp table diffmig_fp (id bigint, h uuid) on commit drop")
        stream_copy(
            src,
            dst,
            sql.SQL("select {k}::bigint, {f} from {t} as s where {k} = any({keys})").format(
                k=key,
                f=mirror.fingerprint("s"),
                t=mirror.source_ident,
                keys=int_array(check),
            ),
            sql.SQL("copy pg_temp.diffmig_fp from stdin (format binary)"),
        )
        dst.execute(
            sql.SQL(
                "update pg_temp.diffmig_changes c set change = case "
                "when f.h is distinct from {f} then 'modified' else 'touched' end "
                "from pg_temp.diffmig_fp f join {t} m on m.{k} = f.id "
                "where c.change = 'check' and c.id = f.id"
            ).format(k=key, f=mirror.fingerprint("m"), t=mirror.ident)
        )

    def _apply_changes(
        self, src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable
    ) -> None:
        """Step 3: the full rows of new and modified keys, then upsert, re-version, mark deletes."""
        key = sql.Identifier(mirror.key)
        keys = [
            int(r[0])
            for r in dst.execute(
                "select id from pg_temp.diffmig_changes where change in ('new', 'modified')"
            )
        ]
        if keys:
            dst.execute(
                sql.SQL(
                    "create temp table diffmig_load on commit drop as "
                    "select {}, _source_xmin from {} with no data"
                ).format(mirror.column_list(), mirror.ident)
            )
            self.transport.load_keys(src, dst, mirror, keys, sql.SQL("pg_temp.diffmig_load"))
            assignments = sql.SQL(", ").join(
                sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in mirror.columns
            )
            dst.execute(
                sql.SQL(
                    "insert into {t} ({cols}, _source_xmin, _synced_run) "
                    "select {cols}, _source_xmin, {run} from pg_temp.diffmig_load "
                    "on conflict ({k}) do update set {assign}, "
                    "_source_xmin = excluded._source_xmin, _synced_at = now(), "
                    "_synced_run = excluded._synced_run, _deleted_at = null"
                ).format(
                    t=mirror.ident,
                    cols=mirror.column_list(),
                    run=sql.Literal(self.stamp_run),
                    k=key,
                    assign=assignments,
                )
            )
        dst.execute(
            sql.SQL(
                "update {t} m set _source_xmin = c.ver from pg_temp.diffmig_changes c "
                "where c.change = 'touched' and m.{k} = c.id"
            ).format(t=mirror.ident, k=key)
        )
        dst.execute(
            sql.SQL(
                "update {t} m set _deleted_at = now(), _synced_run = {run} "
                "from pg_temp.diffmig_changes c where c.change = 'deleted' and m.{k} = c.id"
            ).format(t=mirror.ident, k=key, run=sql.Literal(self.stamp_run))
        )

    def _whole_range(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        work: WorkRange,
        *,
        apply: bool,
    ) -> dict[str, int]:
        """A range the mirror has nothing of: every source row in it is new."""
        key = sql.Identifier(mirror.key)
        between = sql.SQL("{} between {} and {}").format(
            key, sql.Literal(work.lo), sql.Literal(work.hi)
        )
        with dst.transaction():
            if apply:
                # The transport writes the range's bucket checksums with its rows (without
                # them the next sync would load the range whole again: duplicate keys).
                dst.execute(
                    f"delete from {SCHEMA}.mirror_buckets where table_name = %s "
                    "and bucket between %s and %s",
                    (mirror.name, work.lo // BUCKET_WIDTH, work.hi // BUCKET_WIDTH),
                )
                loaded = self.transport.load_range(
                    src, dst, mirror, work.lo, work.hi, self.stamp_run
                )
                counts = {"new": int(loaded)}
                self._checkpoint(dst, mirror, [work], [counts])
            else:
                stream_copy(
                    src,
                    dst,
                    sql.SQL(
                        "select {a}::bigint, {n}::text, {k}::bigint, 'new'::text from {t} where {w}"
                    ).format(
                        a=sql.Literal(self.analysis_id),
                        n=sql.Literal(mirror.name),
                        k=key,
                        t=mirror.source_ident,
                        w=between,
                    ),
                    sql.SQL(
                        f"copy {SCHEMA}.analysis_keys (analysis_id, table_name, legacy_id, change) "
                        "from stdin (format binary)"
                    ),
                )
                row = dst.execute(
                    f"select count(*) from {SCHEMA}.analysis_keys where analysis_id = %s "
                    "and table_name = %s and legacy_id between %s and %s",
                    (self.analysis_id, mirror.name, work.lo, work.hi),
                ).fetchone()
                counts = {"new": int(row[0]) if row else 0}
        return counts

    def _counts_per_range(
        self, dst: psycopg.Connection, batch: list[WorkRange]
    ) -> list[dict[str, int]]:
        """Each range's share of a batch's changes, for its checkpoint."""
        per_range: list[dict[str, int]] = [{} for _ in batch]
        index = {work.lo: i for i, work in enumerate(batch)}
        width = BUCKET_WIDTH * self.buckets_per_range
        for lo, change, n in dst.execute(
            "select floor(id::numeric / %s)::bigint * %s, change, count(*) "
            "from pg_temp.diffmig_changes group by 1, 2",
            (width, width),
        ):
            per_range[index[int(lo)]][str(change)] = int(n)
        return per_range

    def _checkpoint(
        self,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        batch: list[WorkRange],
        counts: list[dict[str, int]],
    ) -> None:
        """A checkpoint row per range of the batch, in the transaction that applied them."""
        with dst.cursor() as cur:
            cur.executemany(
                f"insert into {SCHEMA}.checkpoints (run_id, table_name, range_lo, range_hi, "
                "rows_new, rows_modified, rows_deleted) values (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        self.run_id,
                        mirror.name,
                        work.lo,
                        work.hi,
                        c.get("new", 0),
                        c.get("modified", 0),
                        c.get("deleted", 0),
                    )
                    for work, c in zip(batch, counts, strict=True)
                ],
            )
        dst.execute(
            f"update {SCHEMA}.table_syncs set ranges_done = ranges_done + %s, "
            "rows_new = rows_new + %s, rows_modified = rows_modified + %s, "
            "rows_deleted = rows_deleted + %s where run_id = %s and table_name = %s",
            (
                len(batch),
                sum(c.get("new", 0) for c in counts),
                sum(c.get("modified", 0) for c in counts),
                sum(c.get("deleted", 0) for c in counts),
                self.run_id,
                mirror.name,
            ),
        )
