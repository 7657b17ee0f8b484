"""The mirror of one legacy table in `diffmig_staging`, and the SQL that fingerprints rows.

A mirror table has the legacy table's columns (same names, same types, no constraints but the
key) and diffmig's own:
    _source_xmin  the source row version's xmin: any write to a row gives it a new xmin, so
                  comparing (key, xmin) finds every row written since the last sync, cheaply
    _synced_at    when this version reached the mirror
    _synced_run   the run that brought it (of a chain of resumed runs: the first one)
    _deleted_at   when the key was found gone from the source (rows are never removed)

Change detection is exact: a row written since the last sync (new xmin) is compared by its
content fingerprint, md5 of the row's text form over the fingerprinted columns in their
declared order, computed by each server with the same pinned text settings (see db.py). A row
rewritten with the same values is therefore not a change.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from orchestrator.bookkeeping import mirrors
from orchestrator.bookkeeping.schema import STAGING_SCHEMA
from orchestrator.catalog import SOURCE_SCHEMA, SourceTable

OWN_COLUMNS = ("_source_xmin", "_synced_at", "_synced_run", "_deleted_at")
BUCKET_SHIFT = 5  # a key's bucket is key >> 5: 32 keys, negative keys included (floor)
BUCKET_WIDTH = 1 << BUCKET_SHIFT  # keys per first-level checksum bucket
BUCKETS_PER_RANGE = 2048  # buckets per checkpointed work range (65,536 keys), by default


@dataclass(frozen=True)
class MirrorTable:
    source: SourceTable
    fingerprint_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def key(self) -> str:
        return self.source.key

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, self.name)

    @property
    def source_ident(self) -> sql.Identifier:
        return sql.Identifier(SOURCE_SCHEMA, self.name)

    @property
    def columns(self) -> list[str]:
        return self.source.column_names

    def column_list(self, prefix: str | None = None) -> sql.Composed:
        if prefix:
            return sql.SQL(", ").join(sql.Identifier(prefix, c) for c in self.columns)
        return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)

    def fingerprint(self, alias: str) -> sql.Composed:
        """md5 of the row's text form over the fingerprinted columns, as a uuid."""
        cols = sql.SQL(", ").join(sql.Identifier(alias, c) for c in self.fingerprint_columns)
        return sql.SQL("md5(row({})::text)::uuid").format(cols)

    def bucket_of(self, alias: str | None = None) -> sql.Composed:
        key = sql.Identifier(alias, self.key) if alias else sql.Identifier(self.key)
        # A shift, not a division: `/` truncates toward zero, so keys -31..31 would share
        # bucket 0 while the range of bucket b is b * 32 .. b * 32 + 31.
        return sql.SQL("({}::bigint >> {})").format(key, sql.Literal(BUCKET_SHIFT))


def source_xmin(alias: str | None = None) -> sql.Composed:
    """A source row's xmin as a bigint, for queries that run on the source.

    `xmin::text::bigint` prints and parses every row's transaction id, the largest cost of a
    scan that fingerprints versions (about 90 ns a row). `age(xmin)` is the transaction's own
    stable id minus xmin, modulo 2^32, so that id minus `age(xmin)`, modulo 2^32, is xmin
    again, three times cheaper; the id is `3 + age('3'::xid)` (3 is the first normal
    transaction id), computed once per statement. `age()` of a special id (a row frozen
    before PostgreSQL 9.4 carries xmin 2) is 2^31 - 1: such rows take the slow way. Never use
    this on the destination: `age()` there counts from the destination's transaction ids.
    """
    x = sql.SQL("{}.xmin").format(sql.Identifier(alias)) if alias else sql.SQL("xmin")
    return sql.SQL(
        "(case when age({x}) < 2147483647 "
        "then ((select 3 + age('3'::xid)::bigint) - age({x})) & 4294967295 "
        "else {x}::text::bigint end)"
    ).format(x=x)


def version_hash(key: sql.Composable, xmin: sql.Composable) -> sql.Composed:
    """A 64-bit hash of (key, row version), combined by bit_xor per bucket."""
    return sql.SQL("hashint8extended(({}::bigint << 32) | {}, 0)").format(key, xmin)


def int_array(values: list[int]) -> sql.Composed:
    """An array literal of keys for statements that take no parameters (COPY)."""
    return sql.SQL("{}::bigint[]").format(sql.Literal("{" + ",".join(map(str, values)) + "}"))


def range_bounds(range_index: int, buckets_per_range: int = BUCKETS_PER_RANGE) -> tuple[int, int]:
    width = BUCKET_WIDTH * buckets_per_range
    return range_index * width, (range_index + 1) * width - 1


def ensure_mirror(conn: psycopg.Connection, source: SourceTable) -> tuple[MirrorTable, list[str]]:
    """Create the mirror table, or bring its columns in line with the source.

    Returns the mirror and the list of schema changes made (new columns). A new source column
    is added to the mirror and to the fingerprint, and every mirrored row's fingerprint follows
    (the new column is NULL in the mirror, so rows where the source has a value show up as
    modified at the next comparison, and only those).
    """
    changes: list[str] = []
    recorded = mirrors.fingerprint_columns(conn, source.name)
    if recorded is None:
        defs = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in source.columns
        ]
        conn.execute(
            sql.SQL(
                "create table if not exists {} ({}, _source_xmin bigint, "
                "_synced_at timestamptz not null default now(), "
                "_synced_run bigint not null default current_setting('diffmig.run_id')::bigint, "
                "_deleted_at timestamptz, primary key ({}))"
            ).format(
                sql.Identifier(STAGING_SCHEMA, source.name),
                sql.SQL(", ").join(defs),
                sql.Identifier(source.key),
            )
        )
        _create_synced_run_index(conn, source.name)
        mirrors.register_mirror(conn, source.name, source.key, source.column_names)
        return MirrorTable(source, tuple(source.column_names)), changes

    fingerprint = recorded
    kept = mirror_columns(conn, source.name)
    for column in source.columns:
        if column.name not in kept:
            conn.execute(
                sql.SQL("alter table {} add column {} {}").format(
                    sql.Identifier(STAGING_SCHEMA, source.name),
                    sql.Identifier(column.name),
                    sql.SQL(column.type),
                )
            )
            changes.append(f"{source.name}: new source column {column.name} ({column.type})")
        if column.name not in fingerprint:
            fingerprint.append(column.name)
    gone = [c for c in fingerprint if c not in source.column_names]
    for name in gone:
        fingerprint.remove(name)
        changes.append(f"{source.name}: column {name} is gone from the source (kept in mirror)")
    if changes:
        mirrors.set_fingerprint_columns(conn, source.name, fingerprint)
    # The mirror's own copy of a column the source dropped stays, outside the fingerprint; the
    # source table's column list drives transfers, so it must only hold live columns.
    return MirrorTable(source, tuple(fingerprint)), changes


def _synced_run_index(name: str) -> sql.Identifier:
    return sql.Identifier(STAGING_SCHEMA, f"{name}__synced_run_idx")


def _create_synced_run_index(
    conn: psycopg.Connection, name: str, after_run: int | None = None
) -> None:
    """Delta builds select the rows synced after an entity's watermark (`_synced_run > N`, N a
    literal). After a bulk load the index leaves out the loaded rows (`where _synced_run >
    the load's run`): every one of them has the same value, which no delta build selects, so
    indexing them costs a second of a 5.1-million-row load and 100 MB for nothing. A build whose
    watermark is older (a full build: 0) reads the table as a whole anyway."""
    where = (
        sql.SQL(" where _synced_run > {}").format(sql.Literal(after_run))
        if after_run is not None
        else sql.SQL("")
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (_synced_run){}").format(
            sql.Identifier(f"{name}__synced_run_idx"), sql.Identifier(STAGING_SCHEMA, name), where
        )
    )


def mirror_columns(conn: psycopg.Connection, table_name: str) -> set[str]:
    """The mirror table's columns (diffmig's own included); empty when it does not exist yet."""
    return {
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 "
            "and not attisdropped",
            (f"{STAGING_SCHEMA}.{table_name}",),
        )
    }


def mirror_row_count(conn: psycopg.Connection, mirror: MirrorTable) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {} where _deleted_at is null").format(mirror.ident)
    ).fetchone()
    return int(row[0]) if row else 0


def has_primary_key(conn: psycopg.Connection, mirror: MirrorTable) -> bool:
    row = conn.execute(
        "select 1 from pg_index where indrelid = %s::regclass and indisprimary",
        (f"{STAGING_SCHEMA}.{mirror.name}",),
    ).fetchone()
    return row is not None


def drop_load_indexes(conn: psycopg.Connection, mirror: MirrorTable) -> None:
    """Before a bulk load into an empty mirror: its indexes are built once, afterwards (on one
    machine, 5.1 million rows copied into a mirror with its primary key took 10.1 s; without
    it 5.3 s, then 1.8 s to build it and 0.9 s the `_synced_run` index)."""
    conn.execute(sql.SQL("drop index if exists {}").format(_synced_run_index(mirror.name)))
    row = conn.execute(
        "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
        (f"{STAGING_SCHEMA}.{mirror.name}",),
    ).fetchone()
    if row:
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(
                mirror.ident, sql.Identifier(row[0])
            )
        )


def ensure_load_indexes(conn: psycopg.Connection, mirror: MirrorTable, load_run: int) -> None:
    """The mirror's primary key and its `_synced_run` index, where a bulk load (stamped
    `load_run`) dropped them."""
    if not has_primary_key(conn, mirror):
        conn.execute(
            sql.SQL("alter table {} add primary key ({})").format(
                mirror.ident, sql.Identifier(mirror.key)
            )
        )
    _create_synced_run_index(conn, mirror.name, after_run=load_run)


def refresh_buckets(conn: psycopg.Connection, mirror: MirrorTable) -> None:
    """Recompute every bucket checksum of the mirror from its rows (a range loaded whole gets
    its own from the transport, see transports.load_range)."""
    mirrors.rebuild_buckets(
        conn,
        mirror.name,
        mirror=mirror.ident,
        bucket=mirror.bucket_of(),
        version_hash=version_hash(sql.Identifier(mirror.key), sql.Identifier("_source_xmin")),
    )
    set_buckets_valid(conn, mirror, True)


def set_buckets_valid(conn: psycopg.Connection, mirror: MirrorTable, valid: bool) -> None:
    """Whether `mirror_buckets` describes the whole mirror: false from the start of a bulk load
    until every range has written its checksums (or a refresh has)."""
    mirrors.set_buckets_valid(conn, mirror.name, valid)


def buckets_valid(conn: psycopg.Connection, mirror: MirrorTable) -> bool:
    return mirrors.buckets_valid(conn, mirror.name)
