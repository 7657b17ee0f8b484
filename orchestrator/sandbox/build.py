"""Building the sandbox databases: the legacy source, the Supabase destination, the earlier
migration's leftovers, and the legacy activity since.

Every step is SQL run by the server (see `sql/`); Python only connects, passes parameters and
times the steps. The same functions build the user's sandbox (`diffmig sandbox up`) and the test
suite's template databases.

Roles:
- legacy cluster: bootstrap superuser `postgres`; the app's role `mdw_admin` (LOGIN, password)
  owns database `mdw_db` and every table in it, as on the real RDS. diffmig reads as `mdw_admin`.
- destination cluster: bootstrap superuser `supabase_admin`, as in Supabase; the tool's role
  `postgres` is NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS and owns the app tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from orchestrator.sandbox.clusters import LocalCluster

SQL_DIR = Path(__file__).parent / "sql"

LEGACY_SUPERUSER = "postgres"
LEGACY_APP_ROLE = "mdw_admin"
LEGACY_DB = "mdw_db"
TARGET_SUPERUSER = "supabase_admin"
TARGET_TOOL_ROLE = "postgres"
TARGET_DB = "postgres"

Step = Callable[[str], None]


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


@dataclass
class SandboxPair:
    """The two clusters of a sandbox and the passwords of the roles diffmig logs in as."""

    legacy: LocalCluster
    target: LocalCluster
    legacy_app_password: str
    target_tool_password: str


def _timed(on_step: Step | None, label: str) -> Callable[[], None]:
    started = time.monotonic()
    if on_step:
        on_step(f"{label} ...")

    def done() -> None:
        if on_step:
            on_step(f"{label}: {time.monotonic() - started:.1f}s")

    return done


def database_exists(cluster: LocalCluster, dbname: str) -> bool:
    with cluster.connect("postgres") as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
    return row is not None


def drop_database(cluster: LocalCluster, dbname: str) -> None:
    with cluster.connect("postgres") as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )


def clone_database(cluster: LocalCluster, template: str, dbname: str) -> None:
    """A fresh database copied from a template (a file copy: far faster than regenerating)."""
    with cluster.connect("postgres") as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )
        owner = conn.execute(
            "select pg_get_userbyid(datdba) from pg_database where datname = %s", (template,)
        ).fetchone()
        conn.execute(
            sql.SQL("create database {} template {} owner {}").format(
                sql.Identifier(dbname),
                sql.Identifier(template),
                sql.Identifier(owner[0] if owner else cluster.superuser),
            )
        )
        # Database-level grants (Supabase's `grant all on database ... to postgres`) are not
        # copied from a template: replay them.
        grants = conn.execute(
            "select pg_get_userbyid(a.grantee), a.privilege_type "
            "from pg_database d, aclexplode(d.datacl) a where d.datname = %s and a.grantee <> 0",
            (template,),
        ).fetchall()
        for grantee, privilege in grants:
            conn.execute(
                sql.SQL("grant {} on database {} to {}").format(
                    sql.SQL(privilege), sql.Identifier(dbname), sql.Identifier(grantee)
                )
            )


# --- the legacy source -----------------------------------------------------------------------


def ensure_legacy_role(pair: SandboxPair) -> None:
    with pair.legacy.connect("postgres") as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (LEGACY_APP_ROLE,))
        verb = "alter" if exists.fetchone() else "create"
        conn.execute(
            sql.SQL(verb + " role {} login password {}").format(
                sql.Identifier(LEGACY_APP_ROLE), sql.Literal(pair.legacy_app_password)
            )
        )


def build_legacy(
    pair: SandboxPair, dbname: str, *, seed: int, scale: float, on_step: Step | None = None
) -> None:
    """Create `dbname` on the legacy cluster and generate the legacy data into it."""
    ensure_legacy_role(pair)
    drop_database(pair.legacy, dbname)
    with pair.legacy.connect("postgres") as conn:
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(dbname), sql.Identifier(LEGACY_APP_ROLE)
            )
        )
    with pair.legacy.connect(dbname, LEGACY_APP_ROLE, pair.legacy_app_password) as conn:
        done = _timed(on_step, f"legacy: schema of {dbname}")
        conn.execute(sql_file("common.sql"))
        conn.execute(sql_file("legacy_schema.sql"))
        conn.execute(
            "create table if not exists sandbox.meta (key text primary key, value text not null)"
        )
        done()
        done = _timed(on_step, f"legacy: generating data (scale {scale}, seed {seed})")
        conn.execute(sql_file("legacy_generate.sql"))
        conn.execute("select sandbox.generate_legacy(%s::bigint, %s::numeric)", (seed, scale))
        conn.execute(
            "insert into sandbox.meta values ('seed', %s), ('scale', %s)"
            " on conflict (key) do update set value = excluded.value",
            (str(seed), str(scale)),
        )
        done()


# --- the Supabase destination ----------------------------------------------------------------


# Hosted Supabase's statement_timeout for every role that sets none of its own (world.md
# section 4), `postgres` included. The superuser sets its own (none): the sandbox's build steps
# are not limited, as the platform's own jobs are not.
PLATFORM_STATEMENT_TIMEOUT = "2min"


# Hosted Supabase loads pg_stat_statements (world.md section 4): every statement text sent is
# kept, readable by postgres. The sandbox's own statements that carry a password run with
# tracking off (a superuser's session setting), so that what the statistics hold is diffmig's.
PRELOADED = "pg_stat_statements"
UNTRACKED = "set pg_stat_statements.track = 'none'"


def _preload_statement_statistics(cluster: LocalCluster) -> None:
    """Load pg_stat_statements at server start, restarting the cluster once if needed."""
    with cluster.connect("postgres") as conn:
        row = conn.execute("show shared_preload_libraries").fetchone()
        if row and PRELOADED in str(row[0]):
            return
        conn.execute(
            sql.SQL("alter system set shared_preload_libraries = {}").format(sql.Literal(PRELOADED))
        )
    cluster.restart()


def ensure_target_roles(pair: SandboxPair) -> None:
    _preload_statement_statistics(pair.target)
    with pair.target.connect("postgres") as conn:
        conn.execute(UNTRACKED)
        conn.execute(sql_file("supabase_roles.sql"))
        conn.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(TARGET_TOOL_ROLE), sql.Literal(pair.target_tool_password)
            )
        )
        conn.execute(
            sql.SQL("alter role {} set statement_timeout = 0").format(
                sql.Identifier(TARGET_SUPERUSER)
            )
        )
        # Cluster-wide (ALTER SYSTEM runs alone, outside a transaction), so every database of
        # the cluster, test clones included, has it.
        current = conn.execute(
            "select setting from pg_file_settings where name = 'statement_timeout' "
            "and applied order by seqno desc limit 1"
        ).fetchone()
        if current is None or current[0] != PLATFORM_STATEMENT_TIMEOUT:
            conn.execute(
                sql.SQL("alter system set statement_timeout = {}").format(
                    sql.Literal(PLATFORM_STATEMENT_TIMEOUT)
                )
            )
            conn.execute("select pg_reload_conf()")


def build_target(pair: SandboxPair, dbname: str, *, on_step: Step | None = None) -> None:
    """(Re)create `dbname` on the destination cluster as an empty Supabase project database."""
    done = _timed(on_step, f"destination: Supabase schema of {dbname}")
    ensure_target_roles(pair)
    if dbname == TARGET_DB:
        # Supabase's database is the bootstrap `postgres` one: empty it instead of dropping it.
        with pair.target.connect(dbname) as conn:
            _reset_database_objects(conn)
    else:
        drop_database(pair.target, dbname)
        with pair.target.connect("postgres") as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    with pair.target.connect(dbname) as conn:
        conn.execute(sql_file("supabase_schema.sql"))
    done()


def _reset_database_objects(conn: psycopg.Connection) -> None:
    """Drop every non-system schema of the current database and recreate an empty `public`."""
    schemas = conn.execute(
        "select nspname from pg_namespace where nspname not like 'pg\\_%' "
        "and nspname <> 'information_schema'"
    ).fetchall()
    for (name,) in schemas:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    for ext in conn.execute("select extname from pg_extension where extname <> 'plpgsql'"):
        conn.execute(sql.SQL("drop extension if exists {} cascade").format(sql.Identifier(ext[0])))
    conn.execute("create schema public authorization pg_database_owner")
    conn.execute("grant usage on schema public to public")


# --- the earlier migration and the activity since --------------------------------------------


def simulate_earlier_migration(
    pair: SandboxPair, legacy_db: str, target_db: str, *, seed: int, on_step: Step | None = None
) -> None:
    """Fill the destination as the earlier one-off scripts left it (world.md section 7).

    The sandbox (as superuser) pulls the legacy rows through a temporary postgres_fdw server,
    maps them with the earlier scripts' rules and quirks, then removes every trace of itself.
    """
    done = _timed(on_step, "destination: simulating the earlier migration")
    with pair.target.connect(target_db) as conn:
        conn.execute(UNTRACKED)  # the user mapping below holds the legacy password
        conn.execute(sql_file("common.sql"))
        conn.execute("drop server if exists sandbox_legacy cascade")
        conn.execute("create extension if not exists postgres_fdw with schema extensions")
        conn.execute(
            sql.SQL(
                "create server sandbox_legacy foreign data wrapper postgres_fdw "
                "options (host '127.0.0.1', port {}, dbname {}, fetch_size '50000')"
            ).format(sql.Literal(str(pair.legacy.port)), sql.Literal(legacy_db))
        )
        conn.execute(
            sql.SQL(
                "create user mapping for current_user server sandbox_legacy "
                "options (user {}, password {})"
            ).format(sql.Literal(LEGACY_APP_ROLE), sql.Literal(pair.legacy_app_password))
        )
        conn.execute("drop schema if exists sandbox_legacy cascade")
        conn.execute("create schema sandbox_legacy")
        conn.execute("import foreign schema public from server sandbox_legacy into sandbox_legacy")
        try:
            conn.execute(sql_file("earlier_migration.sql"))
            conn.execute("select sandbox.simulate_earlier_migration(%s::bigint)", (seed,))
        finally:
            conn.execute("drop schema if exists sandbox_legacy cascade")
            conn.execute("drop server if exists sandbox_legacy cascade")
            conn.execute("drop schema if exists sandbox cascade")
            # A new project has no postgres_fdw (world.md section 4): the sandbox's own leaves.
            conn.execute("drop extension if exists postgres_fdw")
        conn.execute("analyze")
    done()


def install_postgres_fdw(cluster: LocalCluster, dbname: str, password: str) -> None:
    """The fdw variant of the destination: a project whose `postgres` created postgres_fdw (as
    `--transport fdw` does, through the extension guard), for the tests of that transport."""
    with cluster.connect(dbname, TARGET_TOOL_ROLE, password) as conn:
        conn.execute("create extension if not exists postgres_fdw with schema extensions")


@dataclass(frozen=True)
class ActivitySummary:
    batch: int
    days: int
    changes: list[tuple[str, str, int]]  # (table, kind, rows)


def simulate_activity(
    pair: SandboxPair, legacy_db: str, *, days: int, seed: int, on_step: Step | None = None
) -> ActivitySummary:
    """Move the legacy database on by `days` of simulated use, logged in sandbox.activity_log."""
    done = _timed(on_step, f"legacy: simulating {days} days of activity")
    with pair.legacy.connect(legacy_db, LEGACY_APP_ROLE, pair.legacy_app_password) as conn:
        conn.execute(sql_file("activity.sql"))
        row = conn.execute(
            "select sandbox.simulate_activity(%s::integer, %s::bigint)", (days, seed)
        ).fetchone()
        batch = int(row[0]) if row and row[0] is not None else 0
        changes = conn.execute(
            "select table_name, kind, count(*) from sandbox.activity_log where batch = %s "
            "group by 1, 2 order by 1, 2",
            (batch,),
        ).fetchall()
        conn.execute("analyze")
    done()
    return ActivitySummary(batch=batch, days=days, changes=[(t, k, int(n)) for t, k, n in changes])


def build_all(
    pair: SandboxPair,
    *,
    legacy_db: str,
    target_db: str,
    seed: int,
    scale: float,
    activity_days: int,
    on_step: Step | None = None,
) -> ActivitySummary | None:
    """The whole sandbox: legacy data, empty destination, earlier migration, then activity."""
    build_legacy(pair, legacy_db, seed=seed, scale=scale, on_step=on_step)
    build_target(pair, target_db, on_step=on_step)
    simulate_earlier_migration(pair, legacy_db, target_db, seed=seed, on_step=on_step)
    if activity_days <= 0:
        return None
    return simulate_activity(pair, legacy_db, days=activity_days, seed=seed, on_step=on_step)
