"""Detection: what changed in a legacy table since its last sync, and in which key ranges.

Steps 0 and 1 (`plan`): the whole table's version checksum on each side, then, when they
differ, the source's checksum per bucket against the mirror's (the bookkeeping's
mirror_buckets): the ranges whose buckets differ are the work. Step 2 (`stage_changes`), per
batch of ranges in the caller's transaction: the differing buckets' new, modified and deleted
keys into pg_temp.diffmig_changes, from the rows written since the last sync where they explain
a bucket, else row by row. Nothing here writes the mirror: sync/apply.py does.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from orchestrator.bookkeeping import analyses, mirrors
from orchestrator.sync.mirror import (
    BUCKET_WIDTH,
    BUCKETS_PER_RANGE,
    MirrorTable,
    buckets_valid,
    ensure_load_indexes,
    int_array,
    range_bounds,
    refresh_buckets,
    source_xmin,
    version_hash,
)
from orchestrator.sync.transports import stream_copy

# Differing buckets worked on in one transaction: consecutive ranges are taken together up to
# this many (a range's work is about twenty statements whatever its size; with 1 % of the rows
# changed all over the key range, every range of a large table has some).
BATCH_BUCKETS = 16384

# Changes per kind (new, modified, deleted, touched: rewritten with the same values).
Counts = dict[str, int]


def buckets_per_range(range_keys: int | None) -> int:
    """Buckets per checkpointed range, from DIFFMIG_RANGE_KEYS (settings.range_keys, a multiple
    of the bucket width; smaller ranges checkpoint more often, larger ones move bulk loads in
    fewer transactions)."""
    return BUCKETS_PER_RANGE if range_keys is None else max(1, range_keys // BUCKET_WIDTH)


@dataclass(frozen=True)
class WorkRange:
    index: int
    lo: int
    hi: int
    buckets: list[int] | None  # None: the mirror has nothing here, load the range whole


@dataclass(frozen=True)
class Plan:
    """The key ranges to work on, the source's row count, and whether this is a bulk load
    (the mirror is empty: every range is loaded whole)."""

    ranges: list[WorkRange]
    source_rows: int
    bulk: bool


def batches(ranges: list[WorkRange], budget: int = BATCH_BUCKETS) -> list[list[WorkRange]]:
    """Ranges loaded whole stay alone; consecutive ranges with differing buckets go together
    while their buckets fit the budget."""
    found: list[list[WorkRange]] = []
    size = 0
    for work in ranges:
        if work.buckets is None:
            found.append([work])
            size = budget  # nothing joins a whole range
            continue
        if found and size + len(work.buckets) <= budget:
            found[-1].append(work)
            size += len(work.buckets)
        else:
            found.append([work])
            size = len(work.buckets)
    return found


def mirror_is_empty(dst: psycopg.Connection, mirror: MirrorTable) -> bool:
    return dst.execute(sql.SQL("select 1 from {} limit 1").format(mirror.ident)).fetchone() is None


def plan_bulk(src: psycopg.Connection, mirror: MirrorTable, per_range: int) -> Plan:
    """An empty mirror: every range of the source's key span, each loaded whole."""
    key = sql.Identifier(mirror.key)
    width = BUCKET_WIDTH * per_range
    row = src.execute(
        sql.SQL("select min({k}), max({k}), count(*) from {t}").format(k=key, t=mirror.source_ident)
    ).fetchone()
    assert row is not None
    lo, hi, source_rows = row[0], row[1], int(row[2])
    if not source_rows:
        return Plan([], 0, True)
    return Plan(
        [
            WorkRange(i, *range_bounds(i, per_range), None)
            for i in range(int(lo) // width, int(hi) // width + 1)
        ],
        source_rows,
        True,
    )


def plan_delta(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    mirror: MirrorTable,
    *,
    apply: bool,
    per_range: int,
    stamp_run: int,
) -> Plan:
    """Steps 0 and 1 against a mirror that holds rows: the ranges with differing buckets."""
    if apply or not buckets_valid(dst, mirror):
        # A resumed first load may have left the mirror without its indexes or checksums.
        with dst.transaction():
            ensure_load_indexes(dst, mirror, stamp_run)
            if not buckets_valid(dst, mirror):
                refresh_buckets(dst, mirror)
    source_rows, same = _source_checksums(src, dst, mirror)
    if same:
        return Plan([], source_rows, False)
    differing = mirrors.differing_buckets(dst, mirror.name, "pg_temp.diffmig_l1")
    occupied = mirrors.occupied_ranges(dst, mirror.name, per_range)
    # diffmig_l1 stays for the table's ranges: after a range is applied, the mirror's
    # checksums of its buckets are the source's (same snapshot), see sync/apply.py.
    dst.execute("create index on pg_temp.diffmig_l1 (bucket)")
    _fetch_written_rows(src, dst, mirror, bool(differing))
    by_range: dict[int, list[int]] = {}
    for bucket in differing:
        by_range.setdefault(bucket // per_range, []).append(bucket)
    ranges = [
        WorkRange(i, *range_bounds(i, per_range), buckets if i in occupied else None)
        for i, buckets in sorted(by_range.items())
    ]
    return Plan(ranges, source_rows, False)


def _source_checksums(
    src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable
) -> tuple[int, bool]:
    """Steps 0 and 1 in one scan of the source: its per-bucket version checksums into
    pg_temp.diffmig_l1, sent only when its whole-table checksum (a first row, bucket null)
    differs from the mirror's. Returns the source's row count and whether the two agree."""
    key = sql.Identifier(mirror.key)
    mirrored = mirrors.table_checksum(dst, mirror.name)
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
            mn=sql.Literal(mirrored.rows),
            mh=sql.Literal(mirrored.version_xor),
        ),
        sql.SQL("copy pg_temp.diffmig_l1 from stdin (format binary)"),
    )
    total = dst.execute(
        "delete from pg_temp.diffmig_l1 where bucket is null returning n, h"
    ).fetchone()
    assert total is not None
    source_rows = int(total[0])
    return source_rows, (source_rows, int(total[1])) == tuple(mirrored)


def _fetch_written_rows(
    src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, needed: bool
) -> None:
    """The rows written since the last sync's snapshot, with their version and fingerprint,
    into pg_temp.diffmig_written for _explained_buckets: one filtered scan of the source, only
    when some bucket differs and the last sync left its snapshot (its xmin: rows at least
    as new, by age() from this transaction's id, were or may have been written since)."""
    dst.execute("drop table if exists pg_temp.diffmig_written")
    dst.execute("create temp table diffmig_written (bucket bigint, id bigint, ver bigint, fp uuid)")
    since = mirrors.flag_from_xmin(dst, mirror.name)
    if not needed or since is None:
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
            since=sql.Literal(str(since)),
        ),
        sql.SQL("copy pg_temp.diffmig_written from stdin (format binary)"),
    )
    dst.execute("create index on pg_temp.diffmig_written (bucket)")
    dst.execute("analyze pg_temp.diffmig_written")


def stage_changes(
    src: psycopg.Connection, dst: psycopg.Connection, mirror: MirrorTable, buckets: list[int]
) -> tuple[Counts, int, int]:
    """Step 2 for differing `buckets`, in the caller's transaction: their changes into
    pg_temp.diffmig_changes (dropped at commit). Returns the counts of changes, and the
    buckets settled by written rows and row by row."""
    dst.execute(
        "create temp table diffmig_changes (id bigint, ver bigint, change text) on commit drop"
    )
    verified = _explained_buckets(dst, mirror, buckets)
    rest = sorted(set(buckets) - verified)
    if rest:
        _bucket_rows(src, dst, mirror, rest)
    counts = {
        str(change): int(n)
        for change, n in dst.execute(
            "select change, count(*) from pg_temp.diffmig_changes group by 1"
        ).fetchall()
    }
    return counts, len(verified), len(rest)


def _explained_buckets(
    dst: psycopg.Connection, mirror: MirrorTable, buckets: list[int]
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
    mirrors.create_explained_buckets(
        dst,
        mirror.name,
        int_array(buckets),
        mirror=mirror.ident,
        key=key,
        hash_new=version_hash(sql.SQL("f.id"), sql.SQL("f.ver")),
        hash_old=version_hash(sql.SQL("x.{}").format(key), sql.SQL("x._source_xmin")),
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


def detect_whole_range(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    mirror: MirrorTable,
    work: WorkRange,
    analysis_id: int,
) -> Counts:
    """A range the mirror has nothing of, detected only: every source key in it is new, into
    the analysis' keys."""
    between = sql.SQL("{} between {} and {}").format(
        sql.Identifier(mirror.key), sql.Literal(work.lo), sql.Literal(work.hi)
    )
    with dst.transaction():
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select {a}::bigint, {n}::text, {k}::bigint, 'new'::text from {t} where {w}"
            ).format(
                a=sql.Literal(analysis_id),
                n=sql.Literal(mirror.name),
                k=sql.Identifier(mirror.key),
                t=mirror.source_ident,
                w=between,
            ),
            analyses.keys_copy(),
        )
        return {"new": analyses.count_keys(dst, analysis_id, mirror.name, work.lo, work.hi)}
