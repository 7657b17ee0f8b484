"""`diffmig doctor`: a preflight of both connections before anything is synced or migrated.

Every check gives one finding: `check` (e.g. "target: tls"), `status` (ok, warn or fail), what was
found (`detail`) and, unless ok, what to do (`fix`). Nothing is changed on either server: the one
check that creates objects (postgres_fdw reaching the source) does it in a transaction it rolls
back.

How a transaction-mode pooler is recognised (COPY streams, temp tables, prepared statements and
the session settings diffmig pins all need one server session per connection):
    1. By address, before connecting: Supabase's pooler (a host containing
       `pooler.supabase.com`) answers in transaction mode on port 6543 and in session mode on
       5432. Port 6543 there is refused without connecting.
    2. Generically, after connecting: a session-level custom setting
       (`set_config('diffmig.doctor_probe', <random>, false)`) is read back in several separate
       transactions together with `pg_backend_pid()`. Plain PostgreSQL (and a session-mode
       pooler) keeps one backend, so the value survives and the pid never changes; a
       transaction-mode pooler (pgbouncer, Supavisor) hands each transaction to any server
       connection and resets or loses the setting, or answers from several pids. A pooler with a
       single server connection and no reset cannot be told apart this way; `inet_server_port()`
       differing from the configured port is reported as a hint that a proxy is in between.
    `SHOW pool_mode` is not used: pgbouncer answers it on its admin console only, and on a normal
    connection it forwards it to PostgreSQL, which rejects the unknown parameter either way.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import db
from orchestrator.catalog import PROJECT_ROOT, SOURCE_SCHEMA, DeclaredTable, declared_tables
from orchestrator.errors import ConnectionFailed, DiffmigError
from orchestrator.settings import DbSettings, Settings, redact
from orchestrator.sync.transports import create_user_mapping, ensure_postgres_fdw

OK, WARN, FAIL = "ok", "warn", "fail"
SUPABASE_POOLER_HOST = "pooler.supabase.com"
TRANSACTION_POOLER_PORT = 6543
SESSION_POOLER_PORT = 5432
PRIVATE_SCHEMAS = ("diffmig", "diffmig_staging", "diffmig_source")
API_ROLES = ("anon", "authenticated")
MIN_STATEMENT_TIMEOUT_MS = 5 * 60 * 1000
SUGGESTED_STATEMENT_TIMEOUT = "30min"
# The destination holds the mirror (a copy of the legacy rows) and the app tables built from it.
DISK_FACTOR = 2.2
PROBE_ROUNDS = 4
# Connections a run holds on the destination besides dbt's threads: its bookkeeping session and
# the sync engine's; dbt adds one for its own queries beside its threads.
DIFFMIG_CONNECTIONS = 2
DBT_EXTRA_CONNECTIONS = 1


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: redact(v) for k, v in asdict(self).items()}


def all_ok(findings: Sequence[Finding]) -> bool:
    return not any(f.status == FAIL for f in findings)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


# --- transaction-mode pooling -----------------------------------------------------------------


def pooler_by_address(db_settings: DbSettings) -> Finding | None:
    """Supabase's pooler, recognised by host and port (no connection needed)."""
    check = f"{db_settings.side}: pooler"
    if SUPABASE_POOLER_HOST not in db_settings.host.lower():
        return None
    prefix = db_settings.side.upper()
    if db_settings.port == TRANSACTION_POOLER_PORT:
        return Finding(
            check,
            FAIL,
            f"{db_settings.host}:{db_settings.port} is Supabase's pooler in transaction mode: no "
            "session state, no prepared statements; COPY streams, temp tables and postgres_fdw "
            "sessions do not work through it",
            f"use port {SESSION_POOLER_PORT} (session mode): set {prefix}_DB_PORT="
            f"{SESSION_POOLER_PORT}, or the direct host db.<project-ref>.supabase.co:5432",
        )
    if db_settings.port == SESSION_POOLER_PORT:
        return Finding(
            check, OK, f"{db_settings.host}:{db_settings.port} is Supabase's pooler in session mode"
        )
    return None


@dataclass(frozen=True)
class PoolProbe:
    state_kept: bool
    rounds: int
    lost: int
    backends: int

    @property
    def transaction_pooling(self) -> bool:
        return not self.state_kept or self.backends > 1


Execute = Callable[[str, Sequence[Any]], Sequence[Any] | None]


def probe_session_state(execute: Execute, rounds: int = PROBE_ROUNDS) -> PoolProbe:
    """Set a session-level custom setting, then read it back (with the backend pid) in `rounds`
    separate transactions. `execute(query, params)` runs one statement in its own transaction
    (an autocommit connection) and returns its first row."""
    token = secrets.token_hex(8)
    execute("select set_config('diffmig.doctor_probe', %s, false)", (token,))
    lost = 0
    pids: set[Any] = set()
    for _ in range(rounds):
        row = execute("select current_setting('diffmig.doctor_probe', true), pg_backend_pid()", ())
        if row is None or row[0] != token:
            lost += 1
        if row is not None:
            pids.add(row[1])
    return PoolProbe(state_kept=lost == 0, rounds=rounds, lost=lost, backends=len(pids))


def _fetchone(conn: psycopg.Connection) -> Execute:
    def run(query: str, params: Sequence[Any]) -> Sequence[Any] | None:
        return conn.execute(query, params or None).fetchone()

    return run


def check_pooling(conn: psycopg.Connection, db_settings: DbSettings) -> Finding:
    check = f"{db_settings.side}: session mode"
    probe = probe_session_state(_fetchone(conn))
    row = conn.execute("select inet_server_port()").fetchone()
    server_port = row[0] if row else None
    proxied = server_port is not None and int(server_port) != db_settings.port
    if probe.transaction_pooling:
        return Finding(
            check,
            FAIL,
            f"session state did not survive between transactions ({probe.lost} of "
            f"{probe.rounds} reads lost it, {probe.backends} backends answered): a "
            "transaction-mode pooler is in between; COPY, temp tables, pinned session settings "
            "and postgres_fdw need one session",
            f"connect in session mode: the pooler's session port ({SESSION_POOLER_PORT} on "
            "Supabase) or the server directly",
        )
    detail = (
        f"session state persists across {probe.rounds} transactions on one backend "
        "(plain PostgreSQL or a session-mode pooler)"
    )
    if proxied:
        detail += (
            f"; the server listens on {server_port}, diffmig connects to {db_settings.port}: "
            "a proxy or pooler is in between, in session mode"
        )
    return Finding(check, OK, detail)


# --- one side's connection ------------------------------------------------------------------


def _connect(db_settings: DbSettings) -> tuple[psycopg.Connection | None, Finding]:
    check = f"{db_settings.side}: reachable"
    started = time.monotonic()
    try:
        conn = db.connect(db_settings, application_name="diffmig-doctor")
    except ConnectionFailed as exc:
        return None, Finding(check, FAIL, redact(exc.message), redact(exc.hint or ""))
    elapsed = (time.monotonic() - started) * 1000
    return conn, Finding(check, OK, f"connected to {db_settings.describe()} in {elapsed:,.0f} ms")


def check_tls(conn: psycopg.Connection, db_settings: DbSettings, insecure_ok: bool) -> Finding:
    check = f"{db_settings.side}: tls"
    row = conn.execute(
        "select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()"
    ).fetchone()
    in_use = bool(row and row[0])
    how = f"TLS in use ({row[1]}, {row[2]})" if in_use and row else "TLS not in use"
    if in_use:
        return Finding(check, OK, how)
    if db_settings.is_local:
        return Finding(check, OK, f"{how}; {db_settings.host} is local, TLS not required")
    if insecure_ok:
        return Finding(
            check,
            WARN,
            f"{how} to the non-local host {db_settings.host}; allowed by DIFFMIG_ALLOW_INSECURE",
            f"enable TLS on the server and unset DIFFMIG_ALLOW_INSECURE "
            f"({db_settings.side.upper()}_DB_SSLMODE=require)",
        )
    return Finding(
        check,
        FAIL,
        f"{how} to the non-local host {db_settings.host}",
        f"set {db_settings.side.upper()}_DB_SSLMODE=require (or verify-full) and enable TLS on "
        "the server; DIFFMIG_ALLOW_INSECURE=1 opts out explicitly",
    )


def check_version(conn: psycopg.Connection, db_settings: DbSettings) -> Finding:
    check = f"{db_settings.side}: server version"
    row = conn.execute(
        "select current_setting('server_version'), current_setting('server_version_num')::int"
    ).fetchone()
    assert row is not None
    version, num = str(row[0]), int(row[1])
    if num < 130000:
        return Finding(
            check,
            WARN,
            f"PostgreSQL {version}: past its community end of life",
            "diffmig works with it, but plan the server's upgrade",
        )
    return Finding(check, OK, f"PostgreSQL {version}")


def _duration(ms: int) -> str:
    if ms == 0:
        return "none"
    return f"{ms / 1000:,.0f} s" if ms < 120_000 else f"{ms / 60000:,.0f} min"


def check_statement_timeout(conn: psycopg.Connection, db_settings: DbSettings) -> Finding:
    """Which statement_timeout applies to diffmig's sessions: the server's for the role (what a
    session gets at login: hosted Supabase gives 2 minutes to every role that sets none), or, on
    the destination, diffmig's own (DIFFMIG_STATEMENT_TIMEOUT), set on every session it opens
    and on dbt's."""
    check = f"{db_settings.side}: statement_timeout"
    row = conn.execute(
        "select setting::bigint, reset_val::bigint from pg_settings "
        "where name = 'statement_timeout'"
    ).fetchone()
    ms, at_login = (int(row[0]), int(row[1])) if row else (0, 0)
    if db_settings.statement_timeout is not None:
        role = _current_user(conn, db_settings)
        server = f"the server gives {role} {_duration(at_login)} (other clients' sessions)"
        if ms == 0 or ms >= MIN_STATEMENT_TIMEOUT_MS:
            return Finding(
                check,
                OK,
                f"{_duration(ms)} on diffmig's and dbt's sessions (DIFFMIG_STATEMENT_TIMEOUT="
                f"{db_settings.statement_timeout}); {server}",
            )
        return Finding(
            check,
            WARN,
            f"{_duration(ms)} on diffmig's and dbt's sessions (DIFFMIG_STATEMENT_TIMEOUT="
            f"{db_settings.statement_timeout}): a large range, COPY or dbt model can hit it; "
            f"{server}",
            "raise DIFFMIG_STATEMENT_TIMEOUT (e.g. 2h) or remove it (none, the default)",
        )
    if ms == 0:
        return Finding(check, OK, f"no statement timeout for {db_settings.user}")
    shown = _duration(ms)
    if ms < MIN_STATEMENT_TIMEOUT_MS:
        return Finding(
            check,
            WARN,
            f"statement_timeout is {shown}: a large range, COPY or dbt model can hit it",
            f'alter role "{_current_user(conn, db_settings)}" set statement_timeout = '
            f"'{SUGGESTED_STATEMENT_TIMEOUT}' (takes effect at the next login)",
        )
    return Finding(check, OK, f"statement_timeout is {shown}")


def _current_user(conn: psycopg.Connection, db_settings: DbSettings) -> str:
    """The role the server sees: through Supabase's pooler the login name is
    `postgres.<project-ref>` but the role is `postgres`, and hints must name the role."""
    row = conn.execute("select current_user").fetchone()
    return str(row[0]) if row else db_settings.user


# --- source ---------------------------------------------------------------------------------


def check_source_reads(conn: psycopg.Connection, tables: Sequence[DeclaredTable]) -> Finding:
    check = "source: read legacy tables"
    rows = conn.execute(
        "select t.name, c.oid is not null, "
        "case when c.oid is null then false else has_table_privilege(c.oid, 'SELECT') end "
        "from unnest(%s::text[]) as t(name) "
        "left join pg_namespace n on n.nspname = %s "
        "left join pg_class c on c.relnamespace = n.oid and c.relname = t.name",
        ([t.name for t in tables], SOURCE_SCHEMA),
    ).fetchall()
    missing = [r[0] for r in rows if not r[1]]
    unreadable = [r[0] for r in rows if r[1] and not r[2]]
    if not missing and not unreadable:
        return Finding(check, OK, f"all {len(tables)} declared legacy tables are readable")
    parts, fixes = [], []
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
        fixes.append(
            "check SOURCE_DB_NAME, or remove the tables from models/staging/legacy/"
            "_legacy__sources.yml"
        )
    if unreadable:
        parts.append(f"no SELECT privilege: {', '.join(unreadable)}")
        names = ", ".join(f"{SOURCE_SCHEMA}.{t}" for t in unreadable)
        fixes.append(f"grant select on {names} to current role (as the tables' owner)")
    return Finding(check, FAIL, "; ".join(parts), "; ".join(fixes))


def data_to_move(conn: psycopg.Connection, tables: Sequence[DeclaredTable]) -> int:
    row = conn.execute(
        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = any(%s) and c.relkind in ('r', 'p')",
        (SOURCE_SCHEMA, [t.name for t in tables]),
    ).fetchone()
    return int(row[0]) if row else 0


# --- target ---------------------------------------------------------------------------------


def check_target_role(conn: psycopg.Connection, user: str) -> Finding:
    row = conn.execute(
        "select rolsuper, rolcreatedb, rolcreaterole, rolbypassrls from pg_roles "
        "where rolname = current_user"
    ).fetchone()
    assert row is not None
    attrs = [
        name
        for name, on in zip(("createdb", "createrole", "bypassrls"), row[1:], strict=True)
        if on
    ]
    kind = "a superuser" if row[0] else "not a superuser (as on Supabase; none is needed)"
    extra = f"; {', '.join(attrs)}" if attrs else ""
    return Finding("target: role", OK, f"{user} is {kind}{extra}")


def check_create_schemas(conn: psycopg.Connection, user: str) -> Finding:
    check = "target: create schemas"
    row = conn.execute(
        "select has_database_privilege(current_database(), 'CREATE'), current_database()"
    ).fetchone()
    assert row is not None
    if row[0]:
        return Finding(check, OK, f"{user} may create schemas in {row[1]}")
    existing = conn.execute(
        "select count(*) from pg_namespace where nspname = any(%s) "
        "and has_schema_privilege(oid, 'CREATE')",
        (list(PRIVATE_SCHEMAS[:2]),),
    ).fetchone()
    if existing and existing[0] == 2:
        return Finding(
            check,
            WARN,
            f"{user} may not create schemas in {row[1]}, but diffmig's schemas exist and are "
            "writable",
            f'grant create on database "{row[1]}" to "{user}" before new private schemas are '
            "needed (diffmig_source for the fdw transport)",
        )
    return Finding(
        check,
        FAIL,
        f"{user} may not create schemas in {row[1]} (diffmig needs diffmig, diffmig_staging)",
        f'grant create on database "{row[1]}" to "{user}"',
    )


def check_fdw(conn: psycopg.Connection, settings: Settings) -> tuple[Finding, bool]:
    """Whether postgres_fdw is installed and usable by the role; the bool says whether to try
    reaching the source through it."""
    check = "target: postgres_fdw"
    required = settings.transport == "fdw"
    soft = FAIL if required else WARN
    fallback = (
        "" if required else "; the copy transport (diffmig streams the rows itself) is used instead"
    )
    user = _current_user(conn, settings.target)
    ext = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
        "where e.extname = 'postgres_fdw'"
    ).fetchone()
    if ext is None:
        # A new Supabase project has none, and lets postgres create it: try, and roll back.
        with conn.transaction(force_rollback=True):
            cannot = ensure_postgres_fdw(conn)
        if cannot is None:
            if not settings.source.password:
                return (
                    Finding(
                        check,
                        soft,
                        "postgres_fdw is not installed; a non-superuser's user mapping would "
                        f"need the source password and SOURCE_DB_PASSWORD is empty{fallback}",
                        "set SOURCE_DB_PASSWORD",
                    ),
                    False,
                )
            how = (
                "--transport fdw creates it"
                if required
                else "--transport auto uses copy; --transport fdw creates it"
            )
            return (
                Finding(
                    check,
                    OK,
                    f"postgres_fdw is not installed (a new Supabase project has none); {user} may "
                    f"create it: {how}",
                ),
                True,
            )
        available = conn.execute(
            "select 1 from pg_available_extensions where name = 'postgres_fdw'"
        ).fetchone()
        where = "not installed" if available else "not available on this server"
        return (
            Finding(
                check,
                soft,
                f"postgres_fdw is {where} and {user} may not create it{fallback}",
                "enable it under Database > Extensions in the Supabase dashboard "
                "(create extension postgres_fdw with schema extensions)",
            ),
            False,
        )
    usage = conn.execute(
        "select has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')"
    ).fetchone()
    if not usage or not usage[0]:
        return (
            Finding(
                check,
                soft,
                f"postgres_fdw is installed (schema {ext[0]}) but {user} may not "
                f"use the wrapper{fallback}",
                f'grant usage on foreign data wrapper postgres_fdw to "{user}" (as supabase_admin)',
            ),
            False,
        )
    if not settings.source.password:
        return (
            Finding(
                check,
                soft,
                "postgres_fdw is usable, but a non-superuser's user mapping needs the source "
                f"password and SOURCE_DB_PASSWORD is empty{fallback}",
                "set SOURCE_DB_PASSWORD",
            ),
            False,
        )
    return (
        Finding(check, OK, f"postgres_fdw installed (schema {ext[0]}) and usable by the role"),
        True,
    )


def check_fdw_reaches_source(
    conn: psycopg.Connection, settings: Settings, probe_table: str
) -> Finding:
    """Create a server, user mapping and foreign table in a transaction that is rolled back, and
    read one row of the source through it."""
    check = "target: postgres_fdw reaches source"
    src = settings.source
    options = {
        "host": src.host,
        "port": str(src.port),
        "dbname": src.dbname,
        "sslmode": src.sslmode,
        "connect_timeout": "10",
        "application_name": "diffmig-doctor-fdw",
    }
    server, schema = "diffmig_doctor_probe", "diffmig_doctor_probe"
    started = time.monotonic()
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("set local statement_timeout = '30s'")
            cannot = ensure_postgres_fdw(conn)  # rolled back with the rest
            if cannot is not None:
                return Finding(check, WARN, cannot)
            conn.execute(
                sql.SQL("create server {} foreign data wrapper postgres_fdw options ({})").format(
                    sql.Identifier(server),
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.SQL(k), sql.Literal(v))
                        for k, v in options.items()
                    ),
                )
            )
            # Never as a literal: pg_stat_statements would keep the password.
            create_user_mapping(conn, server, src.user, src.password.reveal())
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL(
                    "create foreign table {}.probe (id bigint) server {} "
                    "options (schema_name {}, table_name {})"
                ).format(
                    sql.Identifier(schema),
                    sql.Identifier(server),
                    sql.Literal(SOURCE_SCHEMA),
                    sql.Literal(probe_table),
                )
            )
            conn.execute(sql.SQL("select 1 from {}.probe limit 1").format(sql.Identifier(schema)))
    except psycopg.Error as exc:
        return Finding(
            check,
            WARN,
            f"the destination server cannot read the source through postgres_fdw: "
            f"{_first_line(exc)}; the copy transport is used instead",
            "only needed for --transport fdw: the source must accept connections from the "
            "destination server's network (on hosted Supabase: a public source address, "
            "allow-listed, with TLS)",
        )
    elapsed = (time.monotonic() - started) * 1000
    return Finding(
        check,
        OK,
        f"read {SOURCE_SCHEMA}.{probe_table} on {src.host}:{src.port} from the destination in "
        f"{elapsed:,.0f} ms (probe objects rolled back)",
    )


def check_uuid_v5(conn: psycopg.Connection) -> Finding:
    check = "target: uuid_generate_v5"
    rows = conn.execute(
        "select n.nspname, has_function_privilege(p.oid, 'EXECUTE') from pg_proc p "
        "join pg_namespace n on n.oid = p.pronamespace where p.proname = 'uuid_generate_v5'"
    ).fetchall()
    fix = (
        "enable uuid-ossp in schema extensions (Database > Extensions, or create extension "
        '"uuid-ossp" with schema extensions): the mapping calls extensions.uuid_generate_v5'
    )
    if not rows:
        return Finding(check, FAIL, "uuid-ossp is not installed: uuid_generate_v5 is missing", fix)
    if "extensions" not in {r[0] for r in rows}:
        where = ", ".join(sorted({r[0] for r in rows}))
        return Finding(check, FAIL, f"uuid_generate_v5 is in schema {where}, not extensions", fix)
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(
                "select extensions.uuid_generate_v5(extensions.uuid_ns_url(), 'diffmig-doctor')"
            ).fetchone()
    except psycopg.Error as exc:
        return Finding(check, FAIL, f"extensions.uuid_generate_v5 failed: {_first_line(exc)}", fix)
    return Finding(check, OK, "extensions.uuid_generate_v5 is callable")


def check_app_tables(conn: psycopg.Connection, tables: Sequence[str], user: str) -> Finding:
    check = "target: write app tables"
    rows = conn.execute(
        "select t.name, c.oid is not null, case when c.oid is null then false else "
        "has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE') end "
        "from unnest(%s::text[]) as t(name) "
        "left join pg_class c on c.relnamespace = 'public'::regnamespace and c.relname = t.name",
        (list(tables),),
    ).fetchall()
    missing = [r[0] for r in rows if not r[1]]
    denied = [r[0] for r in rows if r[1] and not r[2]]
    if not missing and not denied:
        return Finding(
            check, OK, f"{user} may read, insert and update all {len(tables)} app tables"
        )
    parts, fixes = [], []
    if missing:
        parts.append(f"missing in public: {', '.join(missing)}")
        fixes.append("apply the app's schema (its Supabase migrations) first")
    if denied:
        parts.append(f"no select/insert/update: {', '.join(denied)}")
        fixes.append(
            f"grant select, insert, update on {', '.join('public.' + t for t in denied)} "
            f'to "{user}"'
        )
    return Finding(check, FAIL, "; ".join(parts), "; ".join(fixes))


def check_disk(conn: psycopg.Connection, settings: Settings, to_move: int | None) -> Finding:
    check = "target: free disk"
    row = conn.execute("select pg_database_size(current_database())").fetchone()
    db_size = int(row[0]) if row else 0
    if to_move is None:
        return Finding(
            check,
            WARN,
            f"the destination database uses {_size(db_size)}; the data to move is unknown "
            "(the source could not be read)",
            "fix the source connection and run doctor again",
        )
    need = int(to_move * DISK_FACTOR)
    basis = (
        f"data to move: {_size(to_move)} (the legacy tables on the source, indexes included); "
        f"the destination database uses {_size(db_size)}"
    )
    free: int | None = None
    why = ""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("select pg_ls_dir('.') limit 1").fetchone()
            conn.execute("select pg_stat_file('PG_VERSION')").fetchone()
            data_dir = conn.execute("select current_setting('data_directory')").fetchone()
        if data_dir and settings.target.is_local:
            free = shutil.disk_usage(str(data_dir[0])).free
        else:
            why = "the server is remote: no SQL function reports a filesystem's free space"
    except psycopg.errors.InsufficientPrivilege:
        why = (
            "free space cannot be read by a non-superuser (pg_ls_dir/pg_stat_file are not "
            "permitted)"
        )
    except (psycopg.Error, OSError) as exc:
        why = f"free space could not be read ({_first_line(exc)})"
    provision = (
        f"make sure at least {_size(need)} is free on the destination ({DISK_FACTOR:g}x the data "
        "to move: the mirror's copy plus the app tables); on Supabase see Settings > Database > "
        "Disk size"
    )
    if free is None:
        return Finding(check, WARN, f"{basis}; {why}", provision)
    if free < need:
        return Finding(
            check, FAIL, f"{basis}; only {_size(free)} free, {_size(need)} needed", provision
        )
    return Finding(check, OK, f"{basis}; {_size(free)} free, {_size(need)} needed")


def dbt_threads() -> int:
    """The threads of the dbt profile diffmig runs (profiles.yml)."""
    import yaml

    try:
        profile = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text(encoding="utf-8"))
        return int(profile["diffmig"]["outputs"]["default"]["threads"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return 1


def check_connections(conn: psycopg.Connection, settings: Settings, threads: int) -> Finding:
    """The connections a run needs on the destination against what the server (max_connections,
    the role's and the database's limits) or Supabase's session pooler (its pool size) leaves."""
    check = "target: connections"
    needed = DIFFMIG_CONNECTIONS + threads + DBT_EXTRA_CONNECTIONS
    row = conn.execute(
        "select current_setting('max_connections')::int, "
        "current_setting('superuser_reserved_connections')::int, "
        "(select count(*) from pg_stat_activity where backend_type = 'client backend'), "
        "(select rolconnlimit from pg_roles where rolname = current_user), "
        "(select count(*) from pg_stat_activity where usename = current_user "
        "and backend_type = 'client backend'), "
        "(select datconnlimit from pg_database where datname = current_database()), "
        "(select count(*) from pg_stat_activity where datname = current_database() "
        "and backend_type = 'client backend'), current_user"
    ).fetchone()
    assert row is not None
    max_conn, reserved, in_use, role_limit, role_use, db_limit, db_use, user = row
    # This session ends before the run starts: it is not counted as in use.
    caps = [(f"max_connections {max_conn} ({reserved} reserved for superusers)",
             max_conn - reserved - (in_use - 1))]  # fmt: skip
    if role_limit >= 0:
        caps.append((f"{user}'s connection limit {role_limit}", role_limit - (role_use - 1)))
    if db_limit >= 0:
        caps.append((f"the database's connection limit {db_limit}", db_limit - (db_use - 1)))
    target = settings.target
    if SUPABASE_POOLER_HOST in target.host.lower() and target.port == SESSION_POOLER_PORT:
        pool = settings.pool_size
        caps.append((f"the session pooler's pool size {pool} (DIFFMIG_POOL_SIZE)",
                     pool - (role_use - 1)))  # fmt: skip
    name, free = min(caps, key=lambda c: c[1])
    need = (
        f"a run needs {needed} connections to the destination (diffmig {DIFFMIG_CONNECTIONS}, "
        f"dbt {threads} thread{'s' if threads != 1 else ''} + {DBT_EXTRA_CONNECTIONS})"
    )
    if free < needed:
        return Finding(
            check,
            FAIL,
            f"{need}; {max(free, 0)} free under {name}",
            "free connections (other clients of the project), raise the limit, or use the "
            "direct connection (db.<ref>.supabase.co:5432) instead of the pooler; on the pooler "
            "set DIFFMIG_POOL_SIZE to your plan's pool size",
        )
    return Finding(check, OK, f"{need}; {free} free under {name}")


def check_private_schemas(conn: psycopg.Connection) -> Finding:
    check = "target: private schemas"
    present = [
        r[0]
        for r in conn.execute(
            "select nspname from pg_namespace where nspname = any(%s) order by nspname",
            (list(PRIVATE_SCHEMAS),),
        ).fetchall()
    ]
    if not present:
        return Finding(
            check,
            OK,
            "not created yet: diffmig creates diffmig and diffmig_staging on the first sync, "
            "with no privilege for the API roles",
        )
    roles = [
        r[0]
        for r in conn.execute(
            "select rolname from pg_roles where rolname = any(%s) order by rolname",
            (list(API_ROLES),),
        ).fetchall()
    ]
    problems: list[str] = []
    for role in roles:
        for schema, usage, create in conn.execute(
            "select nspname, has_schema_privilege(%s, oid, 'USAGE'), "
            "has_schema_privilege(%s, oid, 'CREATE') from pg_namespace "
            "where nspname = any(%s) order by nspname",
            (role, role, present),
        ).fetchall():
            granted = [p for p, on in (("usage", usage), ("create", create)) if on]
            if granted:
                problems.append(f"{role} has {' and '.join(granted)} on schema {schema}")
        rows = conn.execute(
            "select n.nspname, count(*) from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = any(%s) and c.relkind in "
            "('r', 'p', 'v', 'm', 'f') and has_table_privilege(%s, c.oid, "
            "'SELECT, INSERT, UPDATE, DELETE') group by n.nspname order by 1",
            (present, role),
        ).fetchall()
        problems.extend(f"{role} has privileges on {n} tables in {s}" for s, n in rows)
    defaults = conn.execute(
        "select n.nspname, d.defaclacl::text from pg_default_acl d "
        "join pg_namespace n on n.oid = d.defaclnamespace where n.nspname = any(%s)",
        (present,),
    ).fetchall()
    for schema, acl in defaults:
        for role in roles:
            if f"{role}=" in (acl or ""):
                problems.append(f"default privileges in {schema} grant {role} access")
    exposed = conn.execute(
        "select unnest(rolconfig) from pg_roles where rolname = 'authenticator'"
    ).fetchall()
    for (setting,) in exposed:
        if setting.startswith("pgrst.db_schemas="):
            listed = {s.strip() for s in setting.split("=", 1)[1].split(",")}
            problems.extend(
                f"schema {s} is exposed by the API (pgrst.db_schemas)"
                for s in present
                if s in listed
            )
    if problems:
        schemas = ", ".join(present)
        api = ", ".join(roles)
        return Finding(
            check,
            FAIL,
            "; ".join(problems),
            f"revoke all on schema {schemas} from {api}, public; revoke all on all tables in "
            f"schema {schemas} from {api}, public; remove them from the API's exposed schemas",
        )
    return Finding(
        check,
        OK,
        f"{', '.join(present)}: no privilege for {', '.join(roles) or 'the API roles'}, no "
        "default grants, not exposed (row level security is not needed there)",
    )


# --- the whole preflight --------------------------------------------------------------------


def _guarded(check: str, func: Callable[[], Finding]) -> Finding:
    """One check's unexpected database error becomes its finding, not the end of the doctor."""
    try:
        return func()
    except psycopg.Error as exc:
        return Finding(
            check, FAIL, f"the check itself failed: {_first_line(exc)}", "rerun with --debug"
        )


def app_tables(settings: Settings | None = None) -> list[str]:
    """The app tables the mapping writes: one mart per table (from the project's index)."""
    from orchestrator.project_index import load_index

    return sorted(load_index(settings).marts)


def _side_checks(
    side: DbSettings, insecure: bool, findings: list[Finding]
) -> psycopg.Connection | None:
    """The checks every connection gets; returns the open connection (or None)."""
    by_address = pooler_by_address(side)
    if by_address is not None:
        findings.append(by_address)
        if by_address.status == FAIL:
            findings.append(
                Finding(
                    f"{side.side}: reachable",
                    WARN,
                    "not attempted: fix the port first (the other checks need a session)",
                    by_address.fix,
                )
            )
            return None
    conn, reached = _connect(side)
    findings.append(reached)
    if conn is None:
        return None
    for name, func in (
        ("tls", lambda: check_tls(conn, side, insecure)),
        ("server version", lambda: check_version(conn, side)),
        ("session mode", lambda: check_pooling(conn, side)),
        ("statement_timeout", lambda: check_statement_timeout(conn, side)),
    ):
        findings.append(_guarded(f"{side.side}: {name}", func))
    return conn


def _target_checks(
    dst: psycopg.Connection,
    settings: Settings,
    declared: Sequence[DeclaredTable],
    marts: Sequence[str],
    to_move: int | None,
    findings: list[Finding],
) -> None:
    # Hints name the role the server sees (through Supabase's pooler the login name is
    # `postgres.<project-ref>`, the role `postgres`).
    user = _current_user(dst, settings.target)
    findings.append(_guarded("target: role", lambda: check_target_role(dst, user)))
    findings.append(_guarded("target: create schemas", lambda: check_create_schemas(dst, user)))
    try:
        fdw_finding, try_fdw = check_fdw(dst, settings)
    except psycopg.Error as exc:
        fdw_finding = Finding("target: postgres_fdw", FAIL, _first_line(exc), "rerun with --debug")
        try_fdw = False
    findings.append(fdw_finding)
    if try_fdw and declared:
        findings.append(
            _guarded(
                "target: postgres_fdw reaches source",
                lambda: check_fdw_reaches_source(dst, settings, declared[0].name),
            )
        )
    findings.append(_guarded("target: uuid_generate_v5", lambda: check_uuid_v5(dst)))
    findings.append(
        _guarded("target: write app tables", lambda: check_app_tables(dst, marts, user))
    )
    findings.append(_guarded("target: free disk", lambda: check_disk(dst, settings, to_move)))
    findings.append(
        _guarded("target: connections", lambda: check_connections(dst, settings, dbt_threads()))
    )
    findings.append(_guarded("target: private schemas", lambda: check_private_schemas(dst)))


def run_doctor(
    settings: Settings,
    *,
    insecure_ok: bool | None = None,
    tables: Sequence[DeclaredTable] | None = None,
    targets: Sequence[str] | None = None,
) -> list[Finding]:
    """Every preflight check, in order; never raises for what it finds."""
    insecure = settings.allow_insecure if insecure_ok is None else insecure_ok
    declared = list(tables) if tables is not None else declared_tables(settings)
    marts = list(targets) if targets is not None else app_tables(settings)
    findings: list[Finding] = [
        Finding(
            "settings",
            OK,
            f"source {settings.source.describe()}; target {settings.target.describe()}; "
            f"read from {settings.env_file or 'the environment'}",
        )
    ]
    conns: dict[str, psycopg.Connection | None] = {}
    try:
        src = _side_checks(settings.source, insecure, findings)
        conns["source"] = src
        to_move: int | None = None
        if src is not None:
            findings.append(
                _guarded("source: read legacy tables", lambda: check_source_reads(src, declared))
            )
            try:
                to_move = data_to_move(src, declared)
            except psycopg.Error as exc:
                findings.append(
                    Finding("source: data to move", WARN, _first_line(exc), "rerun with --debug")
                )
            else:
                findings.append(
                    Finding(
                        "source: data to move",
                        OK,
                        f"{_size(to_move)} in {len(declared)} legacy tables "
                        "(pg_total_relation_size: rows, TOAST and indexes)",
                    )
                )
        dst = _side_checks(settings.target, insecure, findings)
        conns["target"] = dst
        if dst is not None:
            _target_checks(dst, settings, declared, marts, to_move, findings)
    finally:
        for conn in conns.values():
            if conn is not None:
                conn.close()
    return findings


def settings_failure(exc: DiffmigError) -> Finding:
    """The finding for settings that cannot even be loaded."""
    return Finding("settings", FAIL, redact(exc.message), redact(exc.hint or ""))
