"""Scenario 7, secrets and access.

- The session's distinctive passwords (both clusters' superusers, the legacy app role, the tool
  role) appear in no output of the CLI (stdout, stderr), no log file it or dbt writes (logs/,
  target/), no report file, no text diffmig stores (run errors, step details, build messages,
  retries, migration_control) and no process title (`ps -o args` of a running `diffmig run` and
  of every process on the machine meanwhile), also when things fail: a wrong password, an
  unreachable server, a password given in a URL, a failing dbt build. The runs use the fdw
  transport (its user mapping needs the legacy password) and `doctor` probes it: no password in
  the destination's statement history (`pg_stat_statements`, which hosted Supabase keeps and
  `postgres` reads) nor in either server's log, written meanwhile with every statement logged
  (`log_statement = all`) and every failing statement too.
- `anon` and `authenticated` can read nothing in the schemas the tool creates: every schema of
  the destination that the untouched Supabase emulation does not have (read from the catalog).
- The tool role is no superuser, and the run works.
- A non-local host needs TLS unless DIFFMIG_ALLOW_INSECURE=1: at the settings level, and on the
  wire, against a listener on this machine's non-loopback address that refuses TLS (libpq must
  send nothing but its SSLRequest, never the startup packet, let alone a password).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from orchestrator import db
from orchestrator.catalog import PROJECT_ROOT
from orchestrator.errors import ConfigError, ConnectionFailed
from orchestrator.sandbox import build
from orchestrator.sandbox.clusters import LocalCluster
from orchestrator.settings import load_settings
from tests.conftest import TARGET_TEMPLATE, TEST_SCALE, ClusterPair, DbPair, make_db_pair
from tests.integration.test_no_constraint_bypass import BYPASSES
from tests.reliability.conftest import RecordFigures

pytestmark = pytest.mark.db

SUPABASE_ROLES = ("anon", "authenticated")


@dataclass
class Exposure:
    """Everything the tool showed or wrote, to be searched for secrets."""

    texts: dict[str, str] = field(default_factory=dict)
    titles: set[str] = field(default_factory=set)

    def add(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + text

    def leaks(self, needles: list[str]) -> list[tuple[str, str]]:
        found = [(w, n) for w, t in self.texts.items() for n in needles if n in t]
        found += [("process title: " + t[:200], n) for t in self.titles for n in needles if n in t]
        return found


@dataclass
class Session:
    dbs: DbPair
    cwd: Path
    started: float
    exposure: Exposure
    passwords: list[str]
    ran: bool = False


def all_passwords(dbs: DbPair) -> list[str]:
    pair = dbs.pair
    return [
        pair.legacy.superuser_password,
        pair.target.superuser_password,
        pair.legacy_app_password,
        pair.target_tool_password,
    ]


def _process_titles(titles: set[str], stop: threading.Event) -> None:
    """Every process title on the machine, sampled until stopped."""
    while not stop.is_set():
        out = subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True, check=False
        ).stdout
        titles.update(line.strip() for line in out.splitlines()[1:] if line.strip())
        time.sleep(0.2)


def run_cli(
    s: Session, *args: str, env: dict[str, str] | None = None, watch: bool = False
) -> subprocess.CompletedProcess[str]:
    stop = threading.Event()
    watcher = threading.Thread(target=_process_titles, args=(s.exposure.titles, stop), daemon=True)
    if watch:
        watcher.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env={
                **os.environ,
                **(env if env is not None else s.dbs.env()),
                "DIFFMIG_LOG_DIR": str(s.cwd / "logs"),
            },
            cwd=s.cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    finally:
        stop.set()
        if watch:
            watcher.join(timeout=10)
    label = " ".join(args)
    s.exposure.add(f"stdout of {label}", proc.stdout)
    s.exposure.add(f"stderr of {label}", proc.stderr)
    return proc


@pytest.fixture(scope="module")
def session(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    dbs = make_db_pair(clusters)
    s = Session(
        dbs, tmp_path_factory.mktemp("secrets_cwd"), time.time(), Exposure(), all_passwords(dbs)
    )
    yield s
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def _files_written(roots: list[Path], since: float) -> Iterator[Path]:
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            try:
                if path.is_file() and path.stat().st_mtime >= since - 1:
                    yield path
            except OSError:
                continue  # another test's file, gone meanwhile


def test_no_secret_in_output_logs_reports_titles_or_errors(
    session: Session, record_figures: RecordFigures
) -> None:
    s = session
    clusters = (s.dbs.clusters.legacy, s.dbs.clusters.target)
    log_start = {c.name: c.log_file.stat().st_size for c in clusters}
    with s.dbs.target_admin() as conn:
        conn.execute("select extensions.pg_stat_statements_reset()")
    for cluster in clusters:
        _log_every_statement(cluster, True)
    try:
        codes, wrong, files = _exercise(s)
    finally:
        for cluster in clusters:
            _log_every_statement(cluster, False)

    # The destination's statement history, and what both servers logged meanwhile.
    with s.dbs.target_admin() as conn:
        history = [r[0] for r in conn.execute("select query from extensions.pg_stat_statements")]
    assert any("create user mapping" in q.lower() or "diffmig_secret" in q for q in history)
    s.exposure.add("pg_stat_statements", "\n".join(history))
    for cluster in clusters:
        with cluster.log_file.open("rb") as fh:
            fh.seek(log_start[cluster.name])
            logged = fh.read().decode("utf-8", errors="replace")
        assert "statement:" in logged, cluster.name
        s.exposure.add(f"server log of {cluster.name}", logged)
        if cluster is s.dbs.clusters.target:
            # Nothing diffmig or dbt sent switched off a trigger or a constraint.
            assert "insert into" in logged.lower()
            assert not [m.group(0) for m in BYPASSES.finditer(logged)]

    leaks = s.exposure.leaks([*s.passwords, wrong])
    assert not leaks, leaks[:10]
    titles = [t for t in s.exposure.titles if "orchestrator" in t or "dbt" in t]
    assert titles, "the running diffmig was never seen by ps"
    record_figures(
        "secrets",
        {
            "passwords_searched": len(s.passwords) + 1,
            "texts_searched": len(s.exposure.texts),
            "bytes_searched": sum(len(t) for t in s.exposure.texts.values()),
            "files_searched": len(files),
            "statement_history_entries": len(history),
            "server_log_bytes": sum(
                len(t) for k, t in s.exposure.texts.items() if k.startswith("server log")
            ),
            "process_titles_seen": len(s.exposure.titles),
            "diffmig_titles_seen": len(titles),
            "exit_codes": codes,
            "leaks": 0,
            "scale": TEST_SCALE,
        },
    )


def _log_every_statement(cluster: LocalCluster, on: bool) -> None:
    """Every statement, and every failing one, into the server's log (or back to the
    sandbox's settings)."""
    with cluster.connect("postgres") as conn:
        for name, value in (("log_statement", "all"), ("log_min_error_statement", "error")):
            if on:
                conn.execute(
                    sql.SQL("alter system set {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            else:
                conn.execute(sql.SQL("alter system reset {}").format(sql.Identifier(name)))
        conn.execute("select pg_reload_conf()")


def _exercise(s: Session) -> tuple[dict[str, int], str, list[Path]]:
    """Successful and failing commands, fdw transport; returns exit codes, the wrong password
    used and the files written."""
    env = s.dbs.env()
    # doctor probes postgres_fdw with a user mapping of its own (rolled back).
    probe = run_cli(s, "doctor")
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert "postgres_fdw reaches source" in probe.stdout

    # A successful run, its process titles watched, then its report.
    ok = run_cli(s, "run", "--entities", "offices", "--transport", "fdw", watch=True)
    assert ok.returncode == 0, ok.stderr[-3000:]
    s.ran = True
    report = run_cli(s, "report", "--output", "json")
    assert report.returncode == 0, report.stderr[-3000:]
    report_files = [Path(p) for p in json.loads(report.stdout)["files"].values()]
    assert report_files, report.stdout
    for path in report_files:
        s.exposure.add(f"report {path}", path.read_text(encoding="utf-8"))

    # Failures: wrong passwords (distinctive too), an unreachable server, a password in a URL.
    wrong = "WrongPw-" + secrets.token_hex(8)
    unreachable_port = str(_closed_port())
    url_password = s.dbs.pair.target_tool_password
    failures = {
        "wrong target password": {**env, "TARGET_DB_PASSWORD": wrong},
        "wrong source password": {**env, "SOURCE_DB_PASSWORD": wrong},
        "unreachable target": {**env, "TARGET_DB_PORT": unreachable_port},
        "password in an unreachable URL": {
            **{k: v for k, v in env.items() if not k.startswith("TARGET_DB_")},
            "TARGET_DB_HOST": "",
            "TARGET_DATABASE_URL": (
                f"postgresql://postgres:{url_password}@127.0.0.1:{unreachable_port}/nowhere"
            ),
        },
    }
    codes: dict[str, int] = {}
    for label, fenv in failures.items():
        out = run_cli(s, "doctor", env=fenv)
        codes[label] = out.returncode
        assert out.returncode == 3, (label, out.returncode, out.stderr[-2000:])
    out = run_cli(s, "baseline", env=failures["wrong target password"])
    codes["baseline with a wrong password"] = out.returncode
    assert out.returncode == 3, out.stderr[-2000:]

    # A failing build: the app table lost a column the offices mart writes.
    with s.dbs.target_admin() as conn:
        conn.execute("alter table public.offices rename column square_customer_id to sq_gone")
    with s.dbs.legacy_admin() as conn:
        conn.execute("update dispatch_office set name = name || ' ' where id % 5 = 0")
    try:
        failed = run_cli(s, "run", "--entities", "offices", "--transport", "fdw", watch=True)
    finally:
        with s.dbs.target_admin() as conn:
            conn.execute("alter table public.offices rename column sq_gone to square_customer_id")
    codes["failing build"] = failed.returncode
    assert failed.returncode == 4, failed.stderr[-3000:]
    assert "offices" in failed.stderr

    # What diffmig stored: every text of its bookkeeping schema and migration_control.
    with s.dbs.target_admin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables "
                "where schemaname = 'diffmig' or (schemaname = 'public' "
                "and tablename = 'migration_control')"
            )
        ]
        for table in tables:
            for (text,) in conn.execute(
                sql.SQL("select t::text from {} as t").format(sql.SQL(table))
            ):
                s.exposure.add(f"table {table}", text + "\n")

    files = list(
        _files_written(
            [
                s.cwd,
                PROJECT_ROOT / "logs",
                PROJECT_ROOT / "target",
                PROJECT_ROOT / "reports",
                Path(os.environ.get("DIFFMIG_REPORTS_DIR") or PROJECT_ROOT / "reports"),
            ],
            s.started,
        )
    )
    for path in files:
        try:
            s.exposure.add(f"file {path}", path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return codes, wrong, files


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_anon_and_authenticated_read_nothing_private_and_no_superuser(
    session: Session, clusters: ClusterPair, record_figures: RecordFigures
) -> None:
    s = session
    if not s.ran:
        out = run_cli(s, "run", "--entities", "offices")
        assert out.returncode == 0, out.stderr[-3000:]
    with clusters.target.connect(TARGET_TEMPLATE) as conn:
        platform = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    with s.dbs.target_admin() as conn:
        tool = conn.execute(
            "select rolsuper from pg_roles where rolname = %s", (build.TARGET_TOOL_ROLE,)
        ).fetchone()
        assert tool is not None
        assert tool[0] is False, "the tool role must not be a superuser"
        created, relations, readable = _readable_by_api_roles(conn, platform)
        legacy_super = None
        with s.dbs.legacy_admin() as src:
            row = src.execute(
                "select rolsuper from pg_roles where rolname = %s", (build.LEGACY_APP_ROLE,)
            ).fetchone()
            legacy_super = bool(row[0]) if row else None
    assert not readable, readable[:20]
    record_figures(
        "access",
        {
            "private_schemas": created,
            "relations_checked": len(relations),
            "roles": list(SUPABASE_ROLES),
            "readable": 0,
            "tool_role_superuser": False,
            "legacy_role_superuser": legacy_super,
            "scale": TEST_SCALE,
        },
    )


def _readable_by_api_roles(
    conn: psycopg.Connection, platform: set[str]
) -> tuple[list[str], list[tuple[str, str, str]], list[str]]:
    """The schemas the tool created (not in the untouched emulation), their relations, and what
    of them anon or authenticated can read (catalog privileges, then reading as the role)."""
    created = sorted(
        r[0]
        for r in conn.execute("select nspname from pg_namespace")
        if r[0] not in platform and not r[0].startswith("pg_temp")
        and not r[0].startswith("pg_toast_temp")
    )  # fmt: skip
    assert "diffmig" in created
    assert "diffmig_staging" in created
    relations = conn.execute(
        "select n.nspname, c.relname, c.relkind from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p', 'f', 'S')",
        (created,),
    ).fetchall()
    readable: list[str] = []
    for role in SUPABASE_ROLES:
        for schema in created:
            usage = conn.execute(
                "select has_schema_privilege(%s, %s, 'USAGE')", (role, schema)
            ).fetchone()
            if usage and usage[0]:
                readable.append(f"{role}: usage on schema {schema}")
        for schema, rel, _kind in relations:
            can = conn.execute(
                "select has_table_privilege(%s, format('%%I.%%I', %s::text, %s::text), 'SELECT')",
                (role, schema, rel),
            ).fetchone()
            if can and can[0]:
                readable.append(f"{role}: select on {schema}.{rel}")
        # And as the role itself, through SET ROLE: reading fails.
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        try:
            for schema, rel, kind in relations:
                if kind == "S":
                    continue
                try:
                    with conn.transaction():
                        conn.execute(
                            sql.SQL("select 1 from {} limit 1").format(sql.Identifier(schema, rel))
                        ).fetchall()
                    readable.append(f"{role}: read {schema}.{rel}")
                except psycopg.errors.InsufficientPrivilege:
                    pass
        finally:
            conn.execute("reset role")
    return created, relations, readable


OLD_DEFAULT_PRIVILEGES = """
alter default privileges for role postgres in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on tables to postgres, anon, authenticated, service_role;
"""


def test_older_projects_default_privileges_expose_nothing_private(
    clusters: ClusterPair, tmp_path: Path, record_figures: RecordFigures
) -> None:
    """A project created before late 2026 keeps the old default privileges (new tables in public
    granted to the API roles): what diffmig creates stays out of anon's and authenticated's
    reach there too."""
    dbs = make_db_pair(clusters)
    try:
        with dbs.target_admin() as conn:
            conn.execute(OLD_DEFAULT_PRIVILEGES)
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator", "run", "--entities", "offices"],
            env={**os.environ, **dbs.env(), "DIFFMIG_LOG_DIR": str(tmp_path / "logs")},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        with clusters.target.connect(TARGET_TEMPLATE) as conn:
            platform = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        with dbs.target_tool() as conn:
            # The old default is in force: a new table in public is granted to anon.
            conn.execute("create table public.old_default_probe (id int)")
            (granted,) = conn.execute(
                "select has_table_privilege('anon', 'public.old_default_probe', 'SELECT')"
            ).fetchone()
            assert granted is True
            conn.execute("drop table public.old_default_probe")
        with dbs.target_admin() as conn:
            created, relations, readable = _readable_by_api_roles(conn, platform)
        assert "diffmig_staging" in created
        assert not readable, readable[:20]
        record_figures(
            "access_old_default_privileges",
            {"private_schemas": created, "relations_checked": len(relations), "readable": 0},
        )
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)


class TlsProbe:
    """A listener on a non-loopback address of this machine that answers libpq's SSLRequest
    with 'N' (no TLS here) and records what each client sent."""

    SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            with client:
                client.settimeout(2)
                data = b""
                try:
                    data = client.recv(8)
                    if data == self.SSL_REQUEST:
                        client.sendall(b"N")
                        data += client.recv(65536)
                except OSError:
                    pass
                self.received.append(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def _non_loopback_ipv4() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
            address = str(sock.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_a_non_local_host_requires_tls_unless_allowed(
    session: Session, record_figures: RecordFigures
) -> None:
    env = session.dbs.env()
    host = _non_loopback_ipv4() or "db.example.invalid"
    remote = {**env, "TARGET_DB_HOST": host}
    # Settings: TLS required by default; an explicit weaker sslmode is refused, unless allowed.
    settings = load_settings(environ=remote, cwd=Path("/nonexistent"))
    assert settings.target.sslmode == "require"
    for mode in ("disable", "allow", "prefer"):
        with pytest.raises(ConfigError, match="not local"):
            load_settings(environ={**remote, "TARGET_DB_SSLMODE": mode}, cwd=Path("/nonexistent"))
    allowed = load_settings(
        environ={**remote, "TARGET_DB_SSLMODE": "disable", "DIFFMIG_ALLOW_INSECURE": "1"},
        cwd=Path("/nonexistent"),
    )
    assert allowed.target.sslmode == "disable"
    local = load_settings(environ=env, cwd=Path("/nonexistent"))
    assert local.target.sslmode == "prefer"

    figures: dict[str, object] = {"non_loopback_address": host, "scale": TEST_SCALE}
    if host.endswith(".invalid"):
        record_figures("tls", {**figures, "wire_check": "skipped: no non-loopback address"})
        return
    probe = TlsProbe(host)
    try:
        probed = {**remote, "TARGET_DB_PORT": str(probe.port)}
        required = load_settings(environ=probed, cwd=Path("/nonexistent"))
        with pytest.raises(ConnectionFailed) as refused:
            db.connect(required.target).close()
        assert "SSL" in str(refused.value), str(refused.value)
        insecure = load_settings(
            environ={**probed, "DIFFMIG_ALLOW_INSECURE": "1", "TARGET_DB_SSLMODE": "prefer"},
            cwd=Path("/nonexistent"),
        )
        with pytest.raises(ConnectionFailed):
            db.connect(insecure.target).close()
    finally:
        probe.close()
    assert len(probe.received) >= 2, probe.received
    tls_attempt, insecure_attempt = probe.received[0], probe.received[-1]
    # With TLS required, libpq sent its SSLRequest and, refused, nothing else: no startup
    # packet (user, database), no password.
    assert tls_attempt == TlsProbe.SSL_REQUEST, tls_attempt
    # With the explicit opt-out it went on in clear text: the startup packet names the user.
    assert build.TARGET_TOOL_ROLE.encode() in insecure_attempt, insecure_attempt
    for password in session.passwords:
        assert password.encode() not in b"".join(probe.received)
    figures.update(
        {
            "tls_required_bytes_sent": len(tls_attempt),
            "insecure_optout_bytes_sent": len(insecure_attempt),
            "wire_check": "TLS-required client stopped after the SSLRequest",
        }
    )
    record_figures("tls", figures)
