"""Apply: moving a sync's detected changes into the staged mirror, with the range checkpoints
and bucket checksums that make a range applied exactly once.

A range the mirror has nothing of is loaded whole by the transport (its rows and its buckets'
checksums in one transaction); a batch of ranges with differing buckets applies the changes
detect.stage_changes staged in pg_temp.diffmig_changes (step 3: only the full rows of new and
modified keys cross the wire). Either way a checkpoint row per range commits with the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from orchestrator.bookkeeping import mirrors, syncs
from orchestrator.sync.detect import Counts, WorkRange
from orchestrator.sync.mirror import (
    BUCKET_SHIFT,
    BUCKET_WIDTH,
    MirrorTable,
    buckets_valid,
    drop_load_indexes,
    ensure_load_indexes,
    refresh_buckets,
    set_buckets_valid,
)
from orchestrator.sync.transports import Transport


def begin_bulk_load(dst: psycopg.Connection, mirror: MirrorTable) -> None:
    """Before loading an empty mirror: its indexes are built once at the end (finish_load), and
    each range writes its buckets' checksums (the table's are valid once all have)."""
    with dst.transaction():
        set_buckets_valid(dst, mirror, False)
        mirrors.delete_buckets(dst, mirror.name)
        drop_load_indexes(dst, mirror)


def finish_load(
    dst: psycopg.Connection, mirror: MirrorTable, *, stamp_run: int, every_range_loaded: bool
) -> None:
    """After a table's ranges: a mirror whose checksums are not valid yet (a bulk load) gets
    its indexes back, and its checksums validated (every range of the load wrote its own) or
    recomputed (a resumed load)."""
    if buckets_valid(dst, mirror):
        return
    with dst.transaction():
        ensure_load_indexes(dst, mirror, stamp_run)
        if every_range_loaded:
            set_buckets_valid(dst, mirror, True)
        else:
            refresh_buckets(dst, mirror)
    dst.execute(sql.SQL("analyze {}").format(mirror.ident))


@dataclass(frozen=True)
class Applier:
    """Applies one run's changes: `run_id` owns the checkpoints, `stamp_run` stamps the rows
    (_synced_run: the first run of a chain of resumed runs, see SyncEngine)."""

    transport: Transport
    run_id: int
    stamp_run: int
    per_range: int

    def load_whole_range(
        self, src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, work: WorkRange
    ) -> Counts:
        """A range the mirror has nothing of: every source row in it is new."""
        with dst.transaction():
            # The transport writes the range's bucket checksums with its rows (without
            # them the next sync would load the range whole again: duplicate keys).
            mirrors.delete_buckets(
                dst, mirror.name, work.lo // BUCKET_WIDTH, work.hi // BUCKET_WIDTH
            )
            loaded = self.transport.load_range(src, dst, mirror, work.lo, work.hi, self.stamp_run)
            counts = {"new": int(loaded)}
            self.checkpoint(dst, mirror, [work], [counts])
        return counts

    def apply_batch(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        batch: list[WorkRange],
        counts: Counts,
    ) -> None:
        """Step 3 for a batch whose changes are staged, in the caller's transaction: the rows,
        the buckets' checksums (the source's, same snapshot) and a checkpoint per range."""
        buckets = [b for work in batch for b in work.buckets or []]
        self.apply_changes(src, dst, mirror)
        mirrors.store_applied_buckets(dst, mirror.name, buckets, BUCKET_SHIFT)
        if len(batch) == 1:
            self.checkpoint(dst, mirror, batch, [counts])
        else:
            self.checkpoint(dst, mirror, batch, self._counts_per_range(dst, batch))

    def checkpoint(
        self,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        batch: list[WorkRange],
        counts: list[Counts],
    ) -> None:
        """A checkpoint row per range of the batch, in the transaction that applied them."""
        syncs.record_checkpoints(
            dst,
            self.run_id,
            mirror.name,
            [
                syncs.RangeCounts(
                    work.lo, work.hi, c.get("new", 0), c.get("modified", 0), c.get("deleted", 0)
                )
                for work, c in zip(batch, counts, strict=True)
            ],
        )

    def apply_changes(
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

    def _counts_per_range(
        self, dst: psycopg.Connection, batch: list[WorkRange]
    ) -> list[dict[str, int]]:
        """Each range's share of a batch's changes, for its checkpoint."""
        per_range: list[dict[str, int]] = [{} for _ in batch]
        index = {work.lo: i for i, work in enumerate(batch)}
        width = BUCKET_WIDTH * self.per_range
        for lo, change, n in dst.execute(
            "select floor(id::numeric / %s)::bigint * %s, change, count(*) "
            "from pg_temp.diffmig_changes group by 1, 2",
            (width, width),
        ):
            per_range[index[int(lo)]][str(change)] = int(n)
        return per_range
