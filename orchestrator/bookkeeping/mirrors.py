"""The mirror's bookkeeping: `diffmig.mirror_tables` (a row per staged legacy table: its key,
fingerprint columns, last sync and the snapshot the next one flags written rows from) and
`diffmig.mirror_buckets` (per bucket of 32 keys, the mirror's row count and the bit_xor of its
rows' version hashes; see sync/detect.py).

The statements that join the buckets with the sync's temporary tables take the expressions they
need (a bucket, a version hash, a mirror table) from sync/, as psycopg Composables."""

from __future__ import annotations

from typing import NamedTuple

import psycopg
from psycopg import sql

from orchestrator.bookkeeping.schema import SCHEMA

_BUCKETS = sql.Identifier(SCHEMA, "mirror_buckets")


# --- mirror_tables ------------------------------------------------------------------------------


def fingerprint_columns(conn: psycopg.Connection, table: str) -> list[str] | None:
    """The columns of `table`'s fingerprint; None when it has no mirror yet."""
    row = conn.execute(
        f"select fingerprint_columns from {SCHEMA}.mirror_tables where table_name = %s",
        (table,),
    ).fetchone()
    return list(row[0]) if row else None


def register_mirror(conn: psycopg.Connection, table: str, key: str, columns: list[str]) -> None:
    conn.execute(
        f"insert into {SCHEMA}.mirror_tables (table_name, key_column, fingerprint_columns) "
        "values (%s, %s, %s)",
        (table, key, columns),
    )


def set_fingerprint_columns(conn: psycopg.Connection, table: str, columns: list[str]) -> None:
    conn.execute(
        f"update {SCHEMA}.mirror_tables set fingerprint_columns = %s where table_name = %s",
        (columns, table),
    )


def set_buckets_valid(conn: psycopg.Connection, table: str, valid: bool) -> None:
    """Whether `mirror_buckets` describes the whole mirror: false from the start of a bulk load
    until every range has written its checksums (or a refresh has)."""
    conn.execute(
        f"update {SCHEMA}.mirror_tables set buckets_valid = %s where table_name = %s",
        (valid, table),
    )


def buckets_valid(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute(
        f"select buckets_valid from {SCHEMA}.mirror_tables where table_name = %s", (table,)
    ).fetchone()
    return bool(row and row[0])


def mark_synced(conn: psycopg.Connection, table: str, run_id: int, flag_from: int | None) -> None:
    """`table` synced by `run_id`, read in a snapshot whose xmin was `flag_from`."""
    conn.execute(
        f"update {SCHEMA}.mirror_tables set last_synced_run = %s, last_synced_at = now(), "
        "flag_from_xmin = %s where table_name = %s",
        (run_id, flag_from, table),
    )


def flag_from_xmin(conn: psycopg.Connection, table: str) -> int | None:
    """The xmin of the snapshot the last sync of `table` read in (None: no such sync)."""
    row = conn.execute(
        f"select flag_from_xmin from {SCHEMA}.mirror_tables where table_name = %s", (table,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


# --- mirror_buckets -----------------------------------------------------------------------------


class Checksum(NamedTuple):
    """Live rows and the bit_xor of their version hashes."""

    rows: int
    version_xor: int


def delete_buckets(
    conn: psycopg.Connection, table: str, first: int | None = None, last: int | None = None
) -> None:
    """`table`'s bucket checksums, all of them or those from `first` to `last`."""
    if first is None or last is None:
        conn.execute(f"delete from {SCHEMA}.mirror_buckets where table_name = %s", (table,))
        return
    conn.execute(
        f"delete from {SCHEMA}.mirror_buckets where table_name = %s and bucket between %s and %s",
        (table, first, last),
    )


def rebuild_buckets(
    conn: psycopg.Connection,
    table: str,
    *,
    mirror: sql.Composable,
    bucket: sql.Composable,
    version_hash: sql.Composable,
) -> None:
    """Every bucket checksum of `table` recomputed from the rows of its `mirror` relation."""
    delete_buckets(conn, table)
    conn.execute(
        sql.SQL(
            "insert into {s} (table_name, bucket, live_rows, version_xor, all_rows) "
            "select {name}, {b}::bigint, count(*) filter (where _deleted_at is null), "
            "bit_xor({h}) filter (where _deleted_at is null), count(*) from {t} group by 2"
        ).format(s=_BUCKETS, name=sql.Literal(table), b=bucket, h=version_hash, t=mirror)
    )


def checksums_copy() -> sql.Composed:
    """The COPY that streams (table_name, bucket, live_rows, version_xor, all_rows) rows in."""
    return sql.SQL(
        "copy {} (table_name, bucket, live_rows, version_xor, all_rows) from stdin (format binary)"
    ).format(_BUCKETS)


def checksums_insert(
    table: str, *, bucket: sql.Composable, version_hash: sql.Composable, rows: sql.Composable
) -> sql.Composed:
    """An INSERT ... RETURNING live_rows of the bucket checksums of the relation `rows` (a CTE
    of the statement that loaded them)."""
    return sql.SQL(
        "insert into {s} (table_name, bucket, live_rows, version_xor, all_rows) "
        "select {name}, {b}, count(*), bit_xor({h}), count(*) from {rows} group by 2 "
        "returning live_rows"
    ).format(s=_BUCKETS, name=sql.Literal(table), b=bucket, h=version_hash, rows=rows)


def table_checksum(conn: psycopg.Connection, table: str) -> Checksum:
    """The whole mirror's checksum, from its buckets'."""
    row = conn.execute(
        f"select coalesce(sum(live_rows), 0)::bigint, coalesce(bit_xor(version_xor), 0) "
        f"from {SCHEMA}.mirror_buckets where table_name = %s",
        (table,),
    ).fetchone()
    assert row is not None
    return Checksum(int(row[0]), int(row[1]))


def differing_buckets(conn: psycopg.Connection, table: str, source: str) -> list[int]:
    """The buckets whose checksum in the temporary table `source` (bucket, n, h: the source's)
    differs from the mirror's, in order."""
    return [
        int(r[0])
        for r in conn.execute(
            f"select coalesce(s.bucket, m.bucket), coalesce(m.all_rows, 0) "
            f"from {source} s full join (select * from {SCHEMA}.mirror_buckets "
            "where table_name = %s) m on m.bucket = s.bucket "
            "where s.n is distinct from nullif(m.live_rows, 0) "
            "or s.h is distinct from m.version_xor order by 1",
            (table,),
        ).fetchall()
    ]


def occupied_ranges(conn: psycopg.Connection, table: str, buckets_per_range: int) -> set[int]:
    """The ranges of `table` of which the mirror holds a row (deleted ones included)."""
    return {
        int(r[0])
        for r in conn.execute(
            f"select distinct floor(bucket::numeric / %s)::bigint from {SCHEMA}.mirror_buckets "
            "where table_name = %s and all_rows > 0",
            (buckets_per_range, table),
        )
    }


def create_explained_buckets(
    conn: psycopg.Connection,
    table: str,
    buckets: sql.Composable,
    *,
    mirror: sql.Composable,
    key: sql.Composable,
    hash_new: sql.Composable,
    hash_old: sql.Composable,
) -> None:
    """pg_temp.diffmig_verified: the buckets of `buckets` whose source checksum (diffmig_l1)
    is the mirror's with the versions of the flagged rows (diffmig_flagged) swapped in."""
    conn.execute(
        sql.SQL(
            "create temp table diffmig_verified on commit drop as "
            "select s.bucket from pg_temp.diffmig_l1 as s "
            "left join {s} as m on m.table_name = {name} "
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
            s=_BUCKETS,
            name=sql.Literal(table),
            k=key,
            h_new=hash_new,
            h_old=hash_old,
            t=mirror,
            buckets=buckets,
        )
    )


def store_applied_buckets(
    conn: psycopg.Connection, table: str, buckets: list[int], bucket_shift: int
) -> None:
    """After a batch is applied, its buckets' checksums are the source's (diffmig_l1, same
    snapshot); all_rows grows by the new keys (diffmig_changes)."""
    conn.execute(
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
        (table, buckets, table, bucket_shift),
    )
