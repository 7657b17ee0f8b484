"""How legacy rows reach the destination: two transports behind one interface.

- `copy`: diffmig streams `COPY (...) TO STDOUT (FORMAT BINARY)` from the source into
  `COPY ... FROM STDIN (FORMAT BINARY)` in the destination, block by block (never a whole table in
  memory). Reads share the sync's source snapshot.
- `fdw`: the destination pulls through postgres_fdw (a server `diffmig_source` and a password
  user mapping, since Supabase's `postgres` is no superuser; foreign tables in the private schema
  `diffmig_source`). Each foreign table exposes the remote row version as `_source_xmin`. A new
  Supabase project has no postgres_fdw: `--transport fdw` creates it (Supabase lets `postgres`
  create it), `auto` then uses copy and says why.

The legacy password never appears in a statement's text: `pg_stat_statements` (readable by
`postgres`, `pg_monitor` and the dashboard on Supabase) keeps every statement text, and the server
log keeps failing ones. It travels as COPY data into a temporary table, and a DO block builds the
`create user mapping` from it (a statement nested in a DO block is not recorded with
`pg_stat_statements.track = top`, the default, nor logged by log_statement); its errors are
raised again without the statement as context. The mapping is dropped when the sync's
connections close (`FdwTransport.release`) and made again when a table needs it.

Change detection always reads the source directly (checksums and fingerprints are computed where
the rows are); only full rows travel through the transport. A range loaded whole also gets its
bucket checksums from the transport, computed from exactly the rows it loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.abc import Buffer

from orchestrator.bookkeeping import mirrors
from orchestrator.settings import DbSettings, redact
from orchestrator.sync.mirror import MirrorTable, int_array, source_xmin, version_hash

FDW_SERVER = "diffmig_source"
FDW_SCHEMA = "diffmig_source"
FDW_FETCH_SIZE = 20000
COPY_BLOCK = 256 * 1024  # bytes passed on to the destination at a time


def stream_copy(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    src_query: sql.Composable,
    dst_copy: sql.Composed | sql.SQL,
) -> int:
    """Stream the rows of `src_query` into `dst_copy` (a COPY ... FROM STDIN); returns rows.

    The source sends one message per row; they are passed on in blocks of about 256 KB (a
    write per row cost about half a microsecond each of this process's time, which bounds a
    bulk load: 5.1 million rows)."""
    with src.cursor() as scur, dst.cursor() as dcur:
        copy_out = sql.SQL("copy ({}) to stdout (format binary)").format(src_query)
        with scur.copy(copy_out) as reader, dcur.copy(dst_copy) as writer:
            pending: list[Buffer] = []
            size = 0
            read = reader.read
            while block := read():
                pending.append(block)
                size += len(block)
                if size >= COPY_BLOCK:
                    writer.write(b"".join(pending))
                    pending.clear()
                    size = 0
            if pending:
                writer.write(b"".join(pending))
        return dcur.rowcount


class Transport(Protocol):
    name: str

    def prepare(self, dst: psycopg.Connection, mirror: MirrorTable) -> None:
        """Whatever the destination needs before rows of this table move."""

    def load_range(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        lo: int,
        hi: int,
        run: int,
    ) -> int:
        """Every source row with lo <= key <= hi into the mirror, stamped with `run`, and the
        checksums of their buckets into the bookkeeping's mirror_buckets (none there yet): they must
        describe exactly the rows loaded, or the next sync loads the range whole again. Returns
        the rows loaded."""

    def load_keys(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        keys: list[int],
        into: sql.Composable,
    ) -> None:
        """The source rows with these keys into `into` (columns..., _source_xmin)."""


POSTGRES_FDW_SCHEMA = "extensions"


def create_user_mapping(dst: psycopg.Connection, server: str, user: str, password: str) -> None:
    """`create user mapping for current_user server <server> options (user, password)` without the
    password in any statement text (see the module's docstring). Replaces an existing one."""
    build = sql.SQL(
        "do $mapping$ declare secret text := (select value from pg_temp.diffmig_secret); "
        "begin "
        "execute format('drop user mapping if exists for current_user server %I', {server}); "
        "execute format('create user mapping for current_user server %I "
        "options (user %L, password %L)', {server}, {user}, secret); "
        "exception when others then "
        "raise exception using errcode = sqlstate, message = sqlerrm; "
        "end $mapping$"
    ).format(server=sql.Literal(server), user=sql.Literal(user))
    with dst.transaction():
        dst.execute("create temporary table diffmig_secret (value text) on commit drop")
        with dst.cursor() as cur, cur.copy("copy pg_temp.diffmig_secret (value) from stdin") as cp:
            cp.write_row((password,))
        dst.execute(build)
        dst.execute("drop table pg_temp.diffmig_secret")


def drop_user_mapping(dst: psycopg.Connection, server: str) -> None:
    dst.execute(
        sql.SQL("drop user mapping if exists for current_user server {}").format(
            sql.Identifier(server)
        )
    )


def _has_user_mapping(dst: psycopg.Connection, server: str) -> bool:
    row = dst.execute(
        "select 1 from pg_user_mappings where srvname = %s and usename = current_user",
        (server,),
    ).fetchone()
    return row is not None


def ensure_postgres_fdw(dst: psycopg.Connection) -> str | None:
    """Create postgres_fdw (Supabase's extension guard lets `postgres` do it; it then owns the
    wrapper); None when it is there, else why it cannot be."""
    if dst.execute("select 1 from pg_extension where extname = 'postgres_fdw'").fetchone():
        return None
    in_extensions = dst.execute(
        "select 1 from pg_namespace where nspname = %s", (POSTGRES_FDW_SCHEMA,)
    ).fetchone()
    create = sql.SQL("create extension if not exists postgres_fdw{}").format(
        sql.SQL(" with schema {}").format(sql.Identifier(POSTGRES_FDW_SCHEMA))
        if in_extensions
        else sql.SQL("")
    )
    try:
        with dst.transaction():
            dst.execute(create)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            "postgres_fdw is not installed in the destination and the role may not create it "
            f"({redact(first)}): enable it under Database > Extensions"
        )
    return None


def _target_columns(mirror: MirrorTable, stamped: bool = False) -> sql.Composed:
    # A bulk load writes `_synced_run` itself: the column's default (a setting read back for
    # every row) cost 2 s of a 5.1-million-row load.
    extra = ", _source_xmin, _synced_run" if stamped else ", _source_xmin"
    return sql.SQL("{}{}").format(mirror.column_list(), sql.SQL(extra))


@dataclass
class CopyTransport:
    name: str = "copy"

    def prepare(self, dst: psycopg.Connection, mirror: MirrorTable) -> None:
        return None

    def _select(
        self, mirror: MirrorTable, where: sql.Composable, run: int | None = None
    ) -> sql.Composed:
        stamp = sql.SQL(", {}::bigint").format(sql.Literal(run)) if run is not None else sql.SQL("")
        return sql.SQL("select {}, {}{} from {} where {}").format(
            mirror.column_list(), source_xmin(), stamp, mirror.source_ident, where
        )

    def _copy_in(
        self, into: sql.Composable, mirror: MirrorTable, stamped: bool = False
    ) -> sql.Composed:
        return sql.SQL("copy {} ({}) from stdin (format binary)").format(
            into, _target_columns(mirror, stamped)
        )

    def load_range(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        lo: int,
        hi: int,
        run: int,
    ) -> int:
        where = sql.SQL("{} between {} and {}").format(
            sql.Identifier(mirror.key), sql.Literal(lo), sql.Literal(hi)
        )
        loaded = stream_copy(
            src,
            dst,
            self._select(mirror, where, run),
            self._copy_in(mirror.ident, mirror, stamped=True),
        )
        # The checksums from the source, in the same snapshot as the rows just copied: its key
        # index over one range, instead of a scan of the whole mirror at the end of a bulk load
        # (1.6 s of a 5.1-million-row table).
        key = sql.Identifier(mirror.key)
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select {name}::text, {b}::bigint, count(*), bit_xor({h}), count(*) from {t} "
                "where {w} group by 2"
            ).format(
                name=sql.Literal(mirror.name),
                b=mirror.bucket_of(),
                h=version_hash(key, source_xmin()),
                t=mirror.source_ident,
                w=where,
            ),
            mirrors.checksums_copy(),
        )
        return loaded

    def load_keys(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        keys: list[int],
        into: sql.Composable,
    ) -> None:
        if not keys:
            return
        # COPY takes no parameters: the keys go in as an array literal (at most one range's).
        where = sql.SQL("{} = any({})").format(sql.Identifier(mirror.key), int_array(keys))
        stream_copy(src, dst, self._select(mirror, where), self._copy_in(into, mirror))


@dataclass
class FdwTransport:
    """The destination pulls through postgres_fdw."""

    source: DbSettings
    name: str = "fdw"

    def setup(self, dst: psycopg.Connection) -> None:
        """Server, password user mapping and private schema (idempotent)."""
        options = {
            "host": self.source.host,
            "port": str(self.source.port),
            "dbname": self.source.dbname,
            "sslmode": self.source.sslmode,
            "fetch_size": str(FDW_FETCH_SIZE),
            "application_name": "diffmig-fdw",
        }
        exists = dst.execute(
            "select 1 from pg_foreign_server where srvname = %s", (FDW_SERVER,)
        ).fetchone()
        if exists:
            rows = dst.execute(
                "select unnest(srvoptions) from pg_foreign_server where srvname = %s",
                (FDW_SERVER,),
            ).fetchall()
            current = dict(r[0].split("=", 1) for r in rows)
            changes = [
                sql.SQL("{} {} {}").format(
                    sql.SQL("set" if k in current else "add"), sql.SQL(k), sql.Literal(v)
                )
                for k, v in options.items()
                if current.get(k) != v
            ]
            if changes:
                dst.execute(
                    sql.SQL("alter server {} options ({})").format(
                        sql.Identifier(FDW_SERVER), sql.SQL(", ").join(changes)
                    )
                )
        else:
            dst.execute(
                sql.SQL("create server {} foreign data wrapper postgres_fdw options ({})").format(
                    sql.Identifier(FDW_SERVER),
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.SQL(k), sql.Literal(v))
                        for k, v in options.items()
                    ),
                )
            )
        create_user_mapping(dst, FDW_SERVER, self.source.user, self.source.password.reveal())
        dst.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(FDW_SCHEMA)))
        dst.execute(
            sql.SQL("revoke all on schema {} from public").format(sql.Identifier(FDW_SCHEMA))
        )

    def release(self, dst: psycopg.Connection) -> None:
        """Drop the user mapping (it holds the source password) once the sync is done with it."""
        drop_user_mapping(dst, FDW_SERVER)

    def prepare(self, dst: psycopg.Connection, mirror: MirrorTable) -> None:
        """(Re)create the foreign table with the source's current columns plus its xmin (and the
        user mapping, if a previous step released it)."""
        if not _has_user_mapping(dst, FDW_SERVER):
            create_user_mapping(dst, FDW_SERVER, self.source.user, self.source.password.reveal())
        defs: list[sql.Composable] = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type))
            for c in mirror.source.columns
        ]
        defs.append(sql.SQL("_source_xmin xid options (column_name 'xmin')"))
        ident = sql.Identifier(FDW_SCHEMA, mirror.name)
        wanted = [(c.name, c.type) for c in mirror.source.columns] + [("_source_xmin", "xid")]
        current = dst.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
            "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum",
            (f"{FDW_SCHEMA}.{mirror.name}",),
        ).fetchall()
        if [tuple(r) for r in current] == wanted:
            return
        dst.execute(sql.SQL("drop foreign table if exists {}").format(ident))
        dst.execute(
            sql.SQL(
                "create foreign table {} ({}) server {} options (schema_name {}, table_name {})"
            ).format(
                ident,
                sql.SQL(", ").join(defs),
                sql.Identifier(FDW_SERVER),
                sql.Literal("public"),
                sql.Literal(mirror.name),
            )
        )

    def _insert(
        self,
        mirror: MirrorTable,
        into: sql.Composable,
        where: sql.Composable,
        run: int | None = None,
    ) -> sql.Composed:
        # The xid arrives in the destination: it is cast there (source_xmin() is source-only).
        stamp = sql.SQL(", {}::bigint").format(sql.Literal(run)) if run is not None else sql.SQL("")
        return sql.SQL(
            "insert into {} ({}) select {}, _source_xmin::text::bigint{} from {} where {}"
        ).format(
            into,
            _target_columns(mirror, stamped=run is not None),
            mirror.column_list(),
            stamp,
            sql.Identifier(FDW_SCHEMA, mirror.name),
            where,
        )

    def load_range(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        lo: int,
        hi: int,
        run: int,
    ) -> int:
        where = sql.SQL("{} between {} and {}").format(
            sql.Identifier(mirror.key), sql.Literal(lo), sql.Literal(hi)
        )
        # fdw reads in a session of its own (its rows may be newer than the sync's snapshot):
        # the checksums come from the rows the same statement inserted.
        key = sql.Identifier(mirror.key)
        row = dst.execute(
            sql.SQL(
                "with loaded as ({insert} returning {k}, _source_xmin), "
                "checksums as ({checksums}) "
                "select coalesce(sum(live_rows), 0) from checksums"
            ).format(
                insert=self._insert(mirror, mirror.ident, where, run),
                k=key,
                checksums=mirrors.checksums_insert(
                    mirror.name,
                    bucket=mirror.bucket_of(),
                    version_hash=version_hash(key, sql.Identifier("_source_xmin")),
                    rows=sql.Identifier("loaded"),
                ),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    def load_keys(
        self,
        src: psycopg.Connection,
        dst: psycopg.Connection,
        mirror: MirrorTable,
        keys: list[int],
        into: sql.Composable,
    ) -> None:
        if not keys:
            return
        where = sql.SQL("{} = any(%s)").format(sql.Identifier(mirror.key))
        dst.execute(self._insert(mirror, into, where), (keys,))


def fdw_unavailable_reason(
    dst: psycopg.Connection, transport: FdwTransport, probe_table: str, *, create: bool = False
) -> str | None:
    """None when the destination can pull from the source through postgres_fdw; else why not.
    With `create` (--transport fdw), postgres_fdw is created when it is missing."""
    ext = dst.execute("select 1 from pg_extension where extname = 'postgres_fdw'").fetchone()
    if ext is None and create:
        missing = ensure_postgres_fdw(dst)
        if missing is not None:
            return missing
    elif ext is None:
        return (
            "postgres_fdw is not installed in the destination: a new Supabase project has none, "
            "`--transport fdw` creates it"
        )
    allowed = dst.execute(
        "select has_foreign_data_wrapper_privilege('postgres_fdw', 'usage')"
    ).fetchone()
    if not allowed or not allowed[0]:
        return "the destination role may not use the postgres_fdw wrapper"
    if not transport.source.password:
        return "postgres_fdw needs the source password (SOURCE_DB_PASSWORD) as a non-superuser"
    try:
        transport.setup(dst)
        # A throwaway foreign table, rolled back: only reachability and authentication matter.
        with dst.transaction(force_rollback=True):
            dst.execute(
                sql.SQL(
                    "create foreign table {}.diffmig_probe (x int) server {} "
                    "options (schema_name 'public', table_name {})"
                ).format(
                    sql.Identifier(FDW_SCHEMA), sql.Identifier(FDW_SERVER), sql.Literal(probe_table)
                )
            )
            dst.execute(
                sql.SQL("select 1 from {}.diffmig_probe limit 1").format(sql.Identifier(FDW_SCHEMA))
            )
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the destination cannot reach the source: {redact(first)}"
    return None
