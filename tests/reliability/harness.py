"""What the reliability scenarios of crashes, outages, destination failures and concurrent writers
share (tests/reliability/test_crash.py, test_outages.py, test_destination_failures.py,
test_concurrent_writers.py): a pair of databases under fixed names, `diffmig` run as a real
process, copies of the pair for reference runs, fingerprints of the app tables and of the mirror,
and a figures file.

Fixed names: the active pair is always `rig_legacy` / `rig_target`; a copy of it (for an
uninterrupted reference run) is parked under other names and renamed in when its turn comes.
diffmig keeps its dbt state per destination database (dbt_runner.default_target_path), so with one
name every `diffmig run` process of the suite reuses dbt's partial parse: a process costs a few
seconds instead of a full parse of the project.

Figures: every test records its figures (kill points hit, retries, durations...) with the suite's
`record_figures` fixture (conftest.py), which prints them (pytest -s shows them) and appends them
to tests/reliability/figures/<module>.json, from which `python -m benchmarks.tables` writes
docs/reliability-figures.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestrator.sandbox import build
from orchestrator.sandbox.clusters import LocalCluster
from tests.conftest import (
    LEGACY_BASE_TEMPLATE,
    LEGACY_TEMPLATE,
    TARGET_TEMPLATE,
    TEST_ACTIVITY_DAYS,
    TEST_SCALE,
    TEST_SEED,
    ClusterPair,
)

ROOT = Path(__file__).resolve().parents[2]
ACTIVE_LEGACY = "rig_legacy"
ACTIVE_TARGET = "rig_target"
# The first entities in dependency order: a prefix is self-contained (each entity builds the
# shared views it is the first to need). Scenarios that do not need all 18 entities use these.
SMALL_ENTITIES = ("offices", "products", "profiles", "doctors")
# Application names of the tool's own sessions (diffmig, its sync engine, postgres_fdw's pulls,
# dbt); the test's own admin sessions are `diffmig-sandbox` and are never counted.
TOOL_SESSIONS = ("diffmig", "diffmig-sync", "diffmig-fdw", "dbt")
# A run process gets this long for each step a test waits on.
WAIT_SECONDS = 240.0

_templates: dict[float, tuple[str, str]] = {}


def templates_at(clusters: ClusterPair, scale: float) -> tuple[str, str]:
    """The legacy (after activity) and destination templates at `scale`: the session's own at
    the CI scale, else built once per session under names of their own."""
    if scale == TEST_SCALE:
        return LEGACY_TEMPLATE, TARGET_TEMPLATE
    if scale not in _templates:
        tag = f"{scale:g}".replace(".", "_")
        base, legacy, target = (
            f"rig_base_tpl_{tag}",
            f"rig_legacy_tpl_{tag}",
            f"rig_target_tpl_{tag}",
        )
        pair = clusters.pair
        build.build_legacy(pair, base, seed=TEST_SEED, scale=scale)
        build.build_target(pair, target)
        build.simulate_earlier_migration(pair, base, target, seed=TEST_SEED)
        build.clone_database(pair.legacy, base, legacy)
        build.simulate_activity(pair, legacy, days=TEST_ACTIVITY_DAYS, seed=TEST_SEED)
        _templates[scale] = (legacy, target)
    return _templates[scale]


def base_template_at(clusters: ClusterPair, scale: float) -> str:
    """The legacy database before the activity since the earlier migration, at `scale`."""
    if scale == TEST_SCALE:
        return LEGACY_BASE_TEMPLATE
    templates_at(clusters, scale)
    return f"rig_base_tpl_{f'{scale:g}'.replace('.', '_')}"


def _free_database(cluster: LocalCluster, dbname: str) -> None:
    """End every session on `dbname` (leftovers of a killed process), so it can be copied,
    renamed or dropped."""
    with cluster.connect("postgres") as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (dbname,),
        )


def copy_database(cluster: LocalCluster, source: str, dbname: str) -> None:
    for attempt in range(20):
        _free_database(cluster, source)
        try:
            build.clone_database(cluster, source, dbname)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.2)


def rename_database(cluster: LocalCluster, old: str, new: str) -> None:
    for attempt in range(20):
        _free_database(cluster, old)
        try:
            with cluster.connect("postgres") as conn:
                conn.execute(
                    sql.SQL("alter database {} rename to {}").format(
                        sql.Identifier(old), sql.Identifier(new)
                    )
                )
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.2)


@dataclass
class Rig:
    """The active pair (`rig_legacy`, `rig_target`), diffmig as a process against it, and
    parked copies."""

    clusters: ClusterPair
    workdir: Path
    parked: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None

    @property
    def legacy(self) -> LocalCluster:
        return self.clusters.legacy

    @property
    def target(self) -> LocalCluster:
        return self.clusters.target

    # --- connections ----------------------------------------------------------------------

    def legacy_admin(self, *, autocommit: bool = True) -> psycopg.Connection:
        return self.legacy.connect(ACTIVE_LEGACY, autocommit=autocommit)

    def legacy_app(self) -> psycopg.Connection:
        return self.legacy.connect(
            ACTIVE_LEGACY, build.LEGACY_APP_ROLE, self.clusters.pair.legacy_app_password
        )

    def target_admin(self, *, autocommit: bool = True) -> psycopg.Connection:
        return self.target.connect(ACTIVE_TARGET, autocommit=autocommit)

    def target_tool(self) -> psycopg.Connection:
        return self.target.connect(
            ACTIVE_TARGET, build.TARGET_TOOL_ROLE, self.clusters.pair.target_tool_password
        )

    # --- diffmig as a process -------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "SOURCE_DB_HOST": "127.0.0.1",
            "SOURCE_DB_PORT": str(self.legacy.port),
            "SOURCE_DB_USER": build.LEGACY_APP_ROLE,
            "SOURCE_DB_PASSWORD": self.clusters.pair.legacy_app_password,
            "SOURCE_DB_NAME": ACTIVE_LEGACY,
            "TARGET_DB_HOST": "127.0.0.1",
            "TARGET_DB_PORT": str(self.target.port),
            "TARGET_DB_USER": build.TARGET_TOOL_ROLE,
            "TARGET_DB_PASSWORD": self.clusters.pair.target_tool_password,
            "TARGET_DB_NAME": ACTIVE_TARGET,
        }

    @property
    def env_file(self) -> Path:
        """The settings as an .env file, as an operator passes them (`--env-file`)."""
        path = self.workdir / "rig.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()), encoding="utf-8")
        return path

    def _command(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "orchestrator", "--env-file", str(self.env_file), *args]

    def _process_env(self) -> dict[str, str]:
        # The process environment wins over the file: keep only what is not a setting. The
        # extras are read from the environment only (DIFFMIG_RANGE_KEYS).
        names = set(self.env())
        return {**{k: v for k, v in os.environ.items() if k not in names}, **self.extra_env}

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self._command(args),
            env=self._process_env(),
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def diffmig(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(args),
            env=self._process_env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def run_to_end(self, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
        """`diffmig run ARGS` to completion; asserts success; returns it and its duration."""
        started = time.monotonic()
        done = self.diffmig("--output", "json", "run", *args)
        seconds = time.monotonic() - started
        assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
        return done, seconds

    def report(self, run_id: int | None = None) -> dict[str, Any]:
        """`diffmig report` (JSON) and the report's JSON document."""
        out = self.diffmig("--output", "json", "report", *([str(run_id)] if run_id else []))
        assert out.returncode == 0, out.stderr[-3000:]
        written = json.loads(out.stdout)
        path = Path(written["files"]["json"])
        doc: dict[str, Any] = json.loads(
            (path if path.is_absolute() else self.workdir / path).read_text("utf-8")
        )
        return doc

    # --- copies ---------------------------------------------------------------------------

    def copy_as(self, name: str) -> None:
        """Copy the active pair to `<name>_legacy` / `<name>_target` (parked)."""
        copy_database(self.legacy, ACTIVE_LEGACY, f"{name}_legacy")
        copy_database(self.target, ACTIVE_TARGET, f"{name}_target")
        self.parked.append(name)

    def swap(self, name: str) -> None:
        """Park the active pair as `name` and make the pair parked as `name` active."""
        for cluster, active in ((self.legacy, ACTIVE_LEGACY), (self.target, ACTIVE_TARGET)):
            parked = f"{name}_{'legacy' if active == ACTIVE_LEGACY else 'target'}"
            rename_database(cluster, active, f"{active}_swap")
            rename_database(cluster, parked, active)
            rename_database(cluster, f"{active}_swap", parked)

    def drop(self) -> None:
        for name in self.parked:
            build.drop_database(self.legacy, f"{name}_legacy")
            build.drop_database(self.target, f"{name}_target")
        build.drop_database(self.legacy, ACTIVE_LEGACY)
        build.drop_database(self.target, ACTIVE_TARGET)

    # --- waiting on the tool ---------------------------------------------------------------

    def tool_sessions(self, cluster: LocalCluster, dbname: str) -> list[tuple[int, str, str]]:
        with cluster.connect("postgres") as conn:
            return [
                (int(pid), str(app), str(query))
                for pid, app, query in conn.execute(
                    "select pid, application_name, query from pg_stat_activity "
                    "where datname = %s and application_name = any(%s) "
                    "and pid <> pg_backend_pid()",
                    (dbname, list(TOOL_SESSIONS)),
                )
            ]

    def wait_sessions_gone(self, seconds: float = 30.0) -> None:
        """A killed process's sessions end once the server notices (an idle one at once, one
        that was blocked after its statement ran); past `seconds` they are terminated."""
        deadline = time.monotonic() + seconds
        pairs = ((self.legacy, ACTIVE_LEGACY), (self.target, ACTIVE_TARGET))
        while time.monotonic() < deadline:
            if not any(self.tool_sessions(c, d) for c, d in pairs):
                return
            time.sleep(0.05)
        for cluster, dbname in pairs:
            _free_database(cluster, dbname)


def make_rig(
    clusters: ClusterPair, workdir: Path, scale: float, *, legacy_template: str | None = None
) -> Rig:
    """A fresh active pair from the templates at `scale`, with diffmig's bookkeeping created
    (so that copies share the installation's UUID namespace: same legacy key, same UUID)."""
    legacy_tpl, target_tpl = templates_at(clusters, scale)
    copy_database(clusters.legacy, legacy_template or legacy_tpl, ACTIVE_LEGACY)
    copy_database(clusters.target, target_tpl, ACTIVE_TARGET)
    workdir.mkdir(parents=True, exist_ok=True)
    rig = Rig(clusters, workdir)
    from orchestrator.bookkeeping.schema import ensure_schema

    with rig.target_tool() as conn:
        ensure_schema(conn)
        row = conn.execute("select now()").fetchone()
        assert row is not None
        rig.started_at = row[0]
    return rig


@contextlib.contextmanager
def rig_for(clusters: ClusterPair, workdir: Path, scale: float, **kwargs: Any) -> Iterator[Rig]:
    rig = make_rig(clusters, workdir, scale, **kwargs)
    try:
        yield rig
    finally:
        rig.drop()


# --- fingerprints ---------------------------------------------------------------------------

# Whole tables left out of the app fingerprint, and why.
NOT_FINGERPRINTED = {
    # The earlier scripts' run log, which diffmig keeps writing in its shape: one row per entity
    # per run attempt, with that attempt's timings and counts. A run killed and resumed has more
    # attempts than an uninterrupted one by definition; tests check its rows separately.
    "migration_control",
}


def app_tables(conn: psycopg.Connection) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1"
        )
        if r[0] not in NOT_FINGERPRINTED
    ]


def table_rows(conn: psycopg.Connection, table: str, since: datetime) -> dict[str, str]:
    """Every row of public.`table` as text (md5 of the text -> the text), every column included
    (UUIDs too), except one kind of value: a timestamp written during the test (at or after
    `since`, when the test's databases were made) is the clock at the moment of writing
    (`created_at`/`updated_at` defaults and the set_updated_at trigger, migrated_at): it is
    replaced by a marker, so a row written at another moment with the same content compares
    equal. No generated or migrated timestamp of the sandbox is that recent."""
    cols = conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
        (f"public.{table}",),
    ).fetchall()
    parts: list[sql.Composable] = []
    for name, typ in cols:
        ident = sql.Identifier(name)
        if typ.startswith("timestamp"):
            bound = (
                sql.SQL("%(since)s::timestamptz")
                if "with time zone" in typ
                else sql.SQL("(%(since)s::timestamptz at time zone 'UTC')")
            )
            parts.append(
                sql.SQL(
                    "case when {c} >= {b} then 'written during the test' else {c}::text end"
                ).format(c=ident, b=bound)
            )
        else:
            parts.append(sql.SQL("{}::text").format(ident))
    query = sql.SQL("select r.t from (select row({}) ::text as t from {}) r").format(
        sql.SQL(", ").join(parts), sql.Identifier("public", table)
    )
    out: dict[str, str] = {}
    for (text,) in conn.execute(query, {"since": since}):
        out[_md5(text)] = text
    return out


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Fingerprint:
    """Per app table: its rows as normalised text (by md5)."""

    tables: dict[str, dict[str, str]]

    def summary(self) -> dict[str, tuple[int, str]]:
        return {t: (len(rows), _md5("|".join(sorted(rows)))) for t, rows in self.tables.items()}

    def differences(self, other: Fingerprint, limit: int = 3) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for table in sorted(set(self.tables) | set(other.tables)):
            mine, theirs = self.tables.get(table, {}), other.tables.get(table, {})
            if mine.keys() == theirs.keys():
                continue
            only_mine = sorted(mine.keys() - theirs.keys())
            only_theirs = sorted(theirs.keys() - mine.keys())
            out[table] = {
                "rows": (len(mine), len(theirs)),
                "only_here": [mine[k][:400] for k in only_mine[:limit]],
                "only_there": [theirs[k][:400] for k in only_theirs[:limit]],
                "n_only_here": len(only_mine),
                "n_only_there": len(only_theirs),
            }
        return out


def fingerprint(rig: Rig, tables: list[str] | None = None) -> Fingerprint:
    assert rig.started_at is not None
    with rig.target_admin() as conn:
        names = tables or app_tables(conn)
        return Fingerprint({t: table_rows(conn, t, rig.started_at) for t in names})


def assert_same_target(actual: Fingerprint, expected: Fingerprint, what: str) -> None:
    diff = actual.differences(expected)
    assert not diff, (
        f"{what}: target differs from the uninterrupted run's: {json.dumps(diff, indent=1, default=str)}"
    )


def duplicate_legacy_keys(rig: Rig) -> dict[str, int]:
    """Legacy keys present more than once: in migration_mappings (per entity type) and in each
    app table's legacy key columns."""
    out: dict[str, int] = {}
    with rig.target_admin() as conn:
        (dups,) = conn.execute(
            "select count(*) from (select entity_type, legacy_id from public.migration_mappings "
            "group by 1, 2 having count(*) > 1) d"
        ).fetchone() or (0,)
        out["migration_mappings"] = int(dups)
        keyed = conn.execute(
            "select c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t using (table_schema, table_name) "
            "where c.table_schema = 'public' and t.table_type = 'BASE TABLE' "
            "and c.column_name like 'legacy%%id' and c.table_name <> 'migration_mappings'"
        ).fetchall()
        for table, column in keyed:
            (n,) = conn.execute(
                sql.SQL(
                    "select count(*) from (select {c} from {t} where {c} is not null "
                    "group by 1 having count(*) > 1) d"
                ).format(c=sql.Identifier(column), t=sql.Identifier("public", table))
            ).fetchone() or (0,)
            out[f"{table}.{column}"] = int(n)
    return out


def mirror_mismatches(rig: Rig) -> dict[str, tuple[Any, Any]]:
    """Per mirrored table: (source, mirror) row count and md5 over every column, where they
    differ. The mirror's deleted rows are left out (rows are never removed from it)."""
    with rig.target_admin() as dst:
        tables = [
            str(r[0])
            for r in dst.execute("select table_name from diffmig.mirror_tables order by 1")
        ]
    out: dict[str, tuple[Any, Any]] = {}
    with rig.legacy_admin() as src, rig.target_admin() as dst:
        for table in tables:
            cols = [
                str(r[0])
                for r in src.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass "
                    "and attnum > 0 and not attisdropped order by attnum",
                    (f"public.{table}",),
                )
            ]
            col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            agg = sql.SQL(
                "select count(*), md5(coalesce(string_agg(row({c})::text, '|' order by id), '')) "
                "from {t}"
            )
            source = src.execute(
                agg.format(c=col_list, t=sql.Identifier("public", table))
            ).fetchone()
            mirror = dst.execute(
                sql.SQL("{} where _deleted_at is null").format(
                    agg.format(c=col_list, t=sql.Identifier("diffmig_staging", table))
                )
            ).fetchone()
            if tuple(source or ()) != tuple(mirror or ()):
                out[table] = (source, mirror)
    return out


# --- waiting ----------------------------------------------------------------------------------


def wait_until(
    what: str,
    check: Callable[[], Any],
    proc: subprocess.Popen[str] | None = None,
    seconds: float = WAIT_SECONDS,
    interval: float = 0.05,
) -> Any:
    """Poll `check` until it returns something truthy; fail (with the process's output) if the
    process ends first or the time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = None
        with contextlib.suppress(psycopg.Error):
            value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"waiting for {what}: the process ended ({proc.returncode}): {err[-3000:]}")
        time.sleep(interval)
    pytest.fail(f"waiting for {what}: gave up after {seconds:.0f}s")


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler, no cleanup, as a crash or an OOM kill."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def last_run(rig: Rig) -> dict[str, Any]:
    with rig.target_tool() as conn:
        row = conn.execute(
            "select run_id, status, resumed_from, error from diffmig.runs where command = 'run' "
            "order by run_id desc limit 1"
        ).fetchone()
    assert row is not None
    return {"run_id": row[0], "status": row[1], "resumed_from": row[2], "error": row[3]}
