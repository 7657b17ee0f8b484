"""The mirror of one legacy table in `diffmig_staging`, and the SQL that fingerprints rows.

A mirror table has the legacy table's columns (same names, same types, no constraints but the
key) and diffmig's own:
    _source_xmin  the source row version's xmin: any write to a row gives it a new xmin, so
                  comparing (key, xmin) finds every row written since the last sync, cheaply
    _synced_at    when this version reached the mirror
    _synced_run   the run that brought it
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

from orchestrator.bookkeeping.store import SCHEMA, STAGING_SCHEMA
from orchestrator.catalog import SOURCE_SCHEMA, SourceTable

OWN_COLUMNS = ("_source_xmin", "_synced_at", "_synced_run", "_deleted_at")
BUCKET_WIDTH = 32  # keys per first-level checksum bucket
BUCKETS_PER_RANGE = 2048  # buckets per checkpointed work range (65,536 keys)


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
        return sql.SQL("({} / {})").format(key, sql.Literal(BUCKET_WIDTH))


def version_hash(key: sql.Composable, xmin: sql.Composable) -> sql.Composed:
    """A 64-bit hash of (key, row version), combined by bit_xor per bucket."""
    return sql.SQL("hashint8extended(({}::bigint << 32) | {}, 0)").format(key, xmin)


def range_bounds(range_index: int) -> tuple[int, int]:
    width = BUCKET_WIDTH * BUCKETS_PER_RANGE
    return range_index * width, (range_index + 1) * width - 1


def ensure_mirror(conn: psycopg.Connection, source: SourceTable) -> tuple[MirrorTable, list[str]]:
    """Create the mirror table, or bring its columns in line with the source.

    Returns the mirror and the list of schema changes made (new columns). A new source column
    is added to the mirror and to the fingerprint, and every mirrored row's fingerprint follows
    (the new column is NULL in the mirror, so rows where the source has a value show up as
    modified at the next comparison, and only those).
    """
    changes: list[str] = []
    row = conn.execute(
        f"select fingerprint_columns from {SCHEMA}.mirror_tables where table_name = %s",
        (source.name,),
    ).fetchone()
    if row is None:
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
        conn.execute(
            f"insert into {SCHEMA}.mirror_tables (table_name, key_column, fingerprint_columns) "
            "values (%s, %s, %s)",
            (source.name, source.key, source.column_names),
        )
        return MirrorTable(source, tuple(source.column_names)), changes

    fingerprint = list(row[0])
    mirror_columns = {
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
            "and not attisdropped",
            (f"{STAGING_SCHEMA}.{source.name}",),
        )
    }
    for column in source.columns:
        if column.name not in mirror_columns:
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
        conn.execute(
            f"update {SCHEMA}.mirror_tables set fingerprint_columns = %s where table_name = %s",
            (fingerprint, source.name),
        )
    # The mirror's own copy of a column the source dropped stays, outside the fingerprint; the
    # source table's column list drives transfers, so it must only hold live columns.
    return MirrorTable(source, tuple(fingerprint)), changes


def mirror_row_count(conn: psycopg.Connection, mirror: MirrorTable) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {} where _deleted_at is null").format(mirror.ident)
    ).fetchone()
    return int(row[0]) if row else 0
