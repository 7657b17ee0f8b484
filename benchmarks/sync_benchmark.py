"""The sync benchmark (issue item 8): one command, its own throwaway clusters, figures printed.

    .venv/bin/python -m benchmarks.sync_benchmark [--scale 1.0] [--seed 7]
        [--transports copy,fdw] [--activity-days 7] [--skip-reladiff] [--reladiff-threads 4]
        [--per-table] [--json PATH] [--fast-disk]

Exit code 0 when every correctness check held (missed targets are reported, not failures),
1 when one did not or a step failed, 130 when interrupted.

What it does, on a pair of local PostgreSQL clusters it creates under a temporary directory and
destroys at the end (the user's `.sandbox/` is never touched). The clusters are durable
(`LocalCluster(durable=True)`: fsync, full page writes and synchronous commit on, PostgreSQL's
defaults, as on a real server), unlike the sandbox's and the test suite's, whose writes skip
the disk flushes (`--fast-disk` runs the benchmark that way, for comparison); the Supabase one has hosted Supabase's 2-minute statement_timeout for roles
that set none, which diffmig lifts on its own sessions (DIFFMIG_STATEMENT_TIMEOUT):

  build      the legacy database (build_legacy) and an empty Supabase destination (build_target),
             both kept as templates; the legacy template is vacuumed once, so that no phase pays
             for setting the fresh rows' hint bits.
  for each transport, on its own clone of both templates (same start, same activity):
    (a)      raw binary COPY of every declared legacy table into empty plain tables with the same
             column types on the destination (`bench_raw` schema), streamed COPY TO STDOUT ->
             COPY FROM STDIN (format binary) block by block, one table after the other, each in
             its own transaction, by a child Python process (like the sync); then dropped.
    (b)      `diffmig sync` on the empty destination: the first full sync.
    (c)      `diffmig sync` again: nothing changed.
             `sandbox activity` on the legacy clone (--activity-days days, same seed each time);
             the real fraction of rows changed is read from sandbox.activity_log.
    (d)      `diffmig sync` after that activity (checked against the activity log).
    (e)      `diffmig sync` once more: must find nothing (a correctness check, not a target; a
             failure here is recorded and the benchmark goes on).
    detect   (first transport only, on a clone of the destination taken before (d), so (d) runs
             on the same state as without it): `diffmig detect` on the largest tables, then
             reladiff on the same tables (source public.<t> against the mirror
             diffmig_staging.<t>, key id, every legacy column, `_deleted_at is null` on the mirror).

Every diffmig command runs as a child process `python -m orchestrator --output json ...` with the
pair's settings in its environment. Wall time is measured around the child; the peak memory is
the child's own peak resident set size (ru_maxrss from os.wait4 on that child, taken in the
small parent benchmarks/peak_rss.py: the kernel's high-water mark, not sampled); CPU time is
the child's (os.wait4) plus what both servers' backends used meanwhile (the postmasters'
reaped-children times in /proc). Before each measured phase both clusters run CHECKPOINT, so no
phase pays for the previous one's dirty buffers.

Ratios are computed on wall times (what a user waits for, including the ~0.5 s of process start);
the engine's own elapsed time is printed and written to the JSON too.

Child modes (internal): `--child raw-copy` and `--child reladiff`, driven by a JSON spec file and
the pair's settings in the environment (passwords never go on a command line).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from orchestrator.catalog import SourceTable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PEAK_RSS = Path(__file__).resolve().with_name("peak_rss.py")  # the measured children's parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

LEGACY_TEMPLATE = "bench_legacy_tpl"
TARGET_TEMPLATE = "bench_supabase_tpl"
RAW_SCHEMA = "bench_raw"
DETECT_TABLES = ("dispatch_notification", "dispatch_file", "dispatch_record")
TRANSPORTS = ("copy", "fdw")

# The issue's targets.
TARGET_FULL_VS_COPY = 1.3  # (b)/(a) at most
TARGET_NOCHANGE_VS_FULL = 0.05  # (c)/(b) at most
TARGET_ONE_PCT_VS_FULL = 0.10  # (d)/(b) at most
TARGET_DETECT_SPEEDUP = 5.0  # reladiff time / our detection time at least
TARGET_PEAK_MB = 300.0  # orchestrator peak RSS below

# Environment variables that must not leak from the caller into the children's settings.
_SETTINGS_PREFIXES = ("SOURCE_", "TARGET_", "SUPABASE_", "DIFFMIG_")
_PASSED_THROUGH = ("DIFFMIG_RANGE_KEYS", "DIFFMIG_PG_BINDIR")


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


# --- child processes --------------------------------------------------------------------------


@dataclass
class ChildRun:
    argv: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    cpu_client_s: float = 0.0
    cpu_servers_s: float | None = None

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_servers_s is None:
            return None
        return self.cpu_client_s + self.cpu_servers_s

    def json(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.stdout)
        except ValueError:
            raise BenchError(
                f"{' '.join(self.argv[2:])}: output is not JSON "
                f"(exit {self.returncode}); stderr tail:\n{_tail(self.stderr)}"
            ) from None
        if not isinstance(doc, dict):
            raise BenchError(f"{' '.join(self.argv[2:])}: unexpected JSON output")
        return doc


def _tail(text: str, lines: int = 15) -> str:
    from orchestrator.settings import redact

    return redact("\n".join(text.strip().splitlines()[-lines:]))


def server_cpu(clusters: list[Any]) -> float | None:
    """CPU seconds used so far by the clusters' exited backends (postmaster's cutime + cstime,
    plus its own time): a measure of server work that machine contention does not inflate."""
    total = 0.0
    try:
        for cluster in clusters:
            pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return total


def run_child(
    argv: list[str], env: dict[str, str], cwd: Path, clusters: list[Any] | None = None
) -> ChildRun:
    """Run one child to completion: its wall time, its own peak RSS and CPU (os.wait4 in the
    small parent benchmarks/peak_rss.py: a child spawned by this process directly would report
    this process's resident size as its own peak), and the CPU the clusters' backends used
    meanwhile (when `clusters` is given)."""
    before = server_cpu(clusters) if clusters else None
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = Path(scratch) / "rusage.json"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(PEAK_RSS), str(report), "--", *argv],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
        )
        try:
            proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()  # passed on to the command
            proc.wait()
            raise
        wall = time.perf_counter() - started
        usage = json.loads(report.read_text(encoding="utf-8"))
        out.seek(0)
        err.seek(0)
        servers = None
        if before is not None:
            time.sleep(0.3)  # let the postmasters reap the child's backends
            after = server_cpu(clusters or [])
            servers = None if after is None else after - before
        return ChildRun(
            cpu_client_s=usage["utime_s"] + usage["stime_s"],
            cpu_servers_s=servers,
            argv=argv,
            returncode=proc.returncode,
            wall_s=wall,
            peak_rss_mb=usage["maxrss_kb"] / 1024.0,  # Linux: kilobytes
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Phase:
    key: str  # a, b, c, d
    label: str
    transport: str
    wall_s: float
    engine_s: float
    rows_moved: int
    rows_covered: int
    peak_rss_mb: float
    cpu_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    per_table: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows_moved / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def covered_per_s(self) -> float:
        return self.rows_covered / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class DetectRow:
    table: str
    source_rows: int
    expected: dict[str, int]
    ours: dict[str, int]
    ours_s: float
    reladiff: dict[str, int] | None = None
    reladiff_s: float | None = None
    reladiff_wall_s: float | None = None
    reladiff_peak_mb: float | None = None
    reladiff_cpu_s: float | None = None

    @property
    def speedup(self) -> float | None:
        if self.reladiff_s is None or self.ours_s <= 0:
            return None
        return self.reladiff_s / self.ours_s


@dataclass
class Results:
    scale: float
    seed: int
    activity_days: int
    machine: dict[str, Any]
    source_rows: dict[str, int] = field(default_factory=dict)
    build_s: float = 0.0
    activity: dict[str, Any] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    detection: list[DetectRow] = field(default_factory=list)
    detection_run: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)

    def phase(self, transport: str, key: str) -> Phase | None:
        for p in self.phases:
            if p.transport == transport and p.key == key:
                return p
        return None


# --- the benchmark ----------------------------------------------------------------------------


class Benchmark:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.python = sys.executable
        self.tmp = Path(tempfile.mkdtemp(prefix="diffmig-bench-"))
        # PostgreSQL runs as the postgres OS user when we are root: it must be able to read
        # and traverse this dir (else the clusters would move to another temp dir). Nothing
        # secret is written here; the clusters' own directories are private (initdb).
        self.tmp.chmod(0o755)
        self.work = self.tmp / "work"  # children's cwd: no .env here, nothing read by accident
        self.work.mkdir()
        self.pair: Any = None
        self.results = Results(
            scale=args.scale,
            seed=args.seed,
            activity_days=args.activity_days,
            machine=_machine(),
        )
        self.transports = args.transports

    # --- clusters ---

    def start_clusters(self) -> None:
        from orchestrator.sandbox import build
        from orchestrator.sandbox.clusters import (
            LocalCluster,
            find_pg_bindir,
            free_port,
            sandbox_data_root,
        )

        root = sandbox_data_root(self.tmp / "clusters")
        bindir = find_pg_bindir()
        legacy_port = free_port()
        target_port = free_port()
        while target_port == legacy_port:
            target_port = free_port()
        self.pair = build.SandboxPair(
            legacy=LocalCluster(
                "legacy",
                root / "legacy",
                legacy_port,
                build.LEGACY_SUPERUSER,
                secrets.token_hex(12),
                bindir,
                durable=not self.args.fast_disk,
            ),
            target=LocalCluster(
                "supabase",
                root / "supabase",
                target_port,
                build.TARGET_SUPERUSER,
                secrets.token_hex(12),
                bindir,
                durable=not self.args.fast_disk,
            ),
            legacy_app_password=secrets.token_hex(12),
            target_tool_password=secrets.token_hex(12),
        )
        self.data_root = root
        log(f"clusters under {root} (ports {legacy_port} and {target_port})")
        for cluster in (self.pair.legacy, self.pair.target):
            cluster.init()
            cluster.start()
        with self.pair.legacy.connect("postgres") as conn:
            version = conn.execute("show server_version").fetchone()
        self.results.machine["postgres"] = version[0] if version else "?"

    def destroy(self) -> None:
        if self.pair is not None:
            for cluster in (self.pair.legacy, self.pair.target):
                try:
                    cluster.destroy()
                except Exception as exc:  # noqa: BLE001 - keep destroying the rest
                    log(f"could not destroy the {cluster.name} cluster: {exc}")
            with contextlib.suppress(AttributeError):
                if not str(self.data_root).startswith(str(self.tmp)):
                    shutil.rmtree(self.data_root, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def checkpoint(self) -> None:
        for cluster in (self.pair.legacy, self.pair.target):
            with cluster.connect("postgres") as conn:
                conn.execute("checkpoint")

    # --- settings for the children ---

    def env(self, legacy_db: str, target_db: str) -> dict[str, str]:
        from orchestrator.sandbox import build

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(_SETTINGS_PREFIXES) or k in _PASSED_THROUGH
        }
        env.update(
            {
                "SOURCE_DB_HOST": "127.0.0.1",
                "SOURCE_DB_PORT": str(self.pair.legacy.port),
                "SOURCE_DB_USER": build.LEGACY_APP_ROLE,
                "SOURCE_DB_PASSWORD": self.pair.legacy_app_password,
                "SOURCE_DB_NAME": legacy_db,
                "TARGET_DB_HOST": "127.0.0.1",
                "TARGET_DB_PORT": str(self.pair.target.port),
                "TARGET_DB_USER": build.TARGET_TOOL_ROLE,
                "TARGET_DB_PASSWORD": self.pair.target_tool_password,
                "TARGET_DB_NAME": target_db,
                "PYTHONPATH": str(PROJECT_ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def diffmig(self, env: dict[str, str], *args: str) -> tuple[ChildRun, dict[str, Any]]:
        argv = [self.python, "-m", "orchestrator", "--output", "json", *args]
        run = run_child(argv, env, self.work, [self.pair.legacy, self.pair.target])
        if run.returncode != 0:
            raise BenchError(
                f"`diffmig {' '.join(args)}` exited {run.returncode}; stderr tail:\n"
                f"{_tail(run.stderr)}"
            )
        return run, run.json()

    def child(self, env: dict[str, str], mode: str, spec: dict[str, Any]) -> tuple[ChildRun, dict]:
        spec_file = self.work / f"{mode}-spec.json"
        spec_file.write_text(json.dumps(spec))
        argv = [
            self.python,
            "-m",
            "benchmarks.sync_benchmark",
            "--child",
            mode,
            "--child-spec",
            str(spec_file),
        ]
        run = run_child(argv, env, self.work, [self.pair.legacy, self.pair.target])
        if run.returncode != 0:
            raise BenchError(f"{mode} child exited {run.returncode}:\n{_tail(run.stderr)}")
        return run, run.json()

    # --- building ---

    def build(self) -> None:
        from orchestrator.catalog import declared_tables
        from orchestrator.sandbox import build

        started = time.monotonic()
        build.build_legacy(
            self.pair, LEGACY_TEMPLATE, seed=self.args.seed, scale=self.args.scale, on_step=log
        )
        build.build_target(self.pair, TARGET_TEMPLATE, on_step=log)
        log("legacy: vacuum analyze of the template (hint bits set once for every phase)")
        with self.pair.legacy.connect(LEGACY_TEMPLATE) as conn:
            conn.execute("vacuum analyze")
            self.results.source_rows = {
                t.name: int(conn.execute(f'select count(*) from public."{t.name}"').fetchone()[0])
                for t in declared_tables()
            }
        self.results.build_s = time.monotonic() - started
        total = sum(self.results.source_rows.values())
        log(
            f"built in {self.results.build_s:.0f}s: {total:,} legacy rows in "
            f"{len(self.results.source_rows)} declared tables"
        )

    # --- one transport ---

    def run_transport(self, transport: str, with_detection: bool) -> None:
        from orchestrator.sandbox import build

        legacy_db, target_db = f"legacy_{transport}", f"supabase_{transport}"
        build.clone_database(self.pair.legacy, LEGACY_TEMPLATE, legacy_db)
        build.clone_database(self.pair.target, TARGET_TEMPLATE, target_db)
        env = self.env(legacy_db, target_db)
        total = sum(self.results.source_rows.values())
        try:
            self.raw_copy(transport, env, legacy_db, target_db)
            self.sync(transport, env, "b", "(b) first full sync", expect_total=total)
            self.sync(transport, env, "c", "(c) sync, no changes", expect_nothing=True)
            truth = self.activity(transport, legacy_db)
            detect_db = None
            if with_detection:
                detect_db = f"supabase_{transport}_detect"
                log(f"{transport}: cloning the destination for the detection comparison")
                build.clone_database(self.pair.target, target_db, detect_db)
            self.sync(transport, env, "d", "(d) sync after the activity", truth=truth)
            # Not a target: after (d) the mirror must equal the source, so nothing is left.
            # A failure here is recorded as a failed check; the benchmark goes on.
            try:
                self.sync(transport, env, "e", "(e) sync again after (d)", expect_nothing=True)
            except BenchError as exc:
                lines = str(exc).splitlines()
                cause = next((ln for ln in lines if "ERROR" in ln), lines[-1])
                self._check(False, f"{transport} (e) sync again after (d) failed: {cause.strip()}")
            if detect_db is not None:
                self.detection(transport, legacy_db, detect_db, truth)
                build.drop_database(self.pair.target, detect_db)
        finally:
            build.drop_database(self.pair.legacy, legacy_db)
            build.drop_database(self.pair.target, target_db)

    def raw_copy(
        self,
        transport: str,
        env: dict[str, str],
        legacy_db: str,
        target_db: str,
        *,
        then: Callable[[psycopg.Connection, list[SourceTable]], None] | None = None,
    ) -> None:
        from psycopg import sql

        from orchestrator.catalog import declared_tables, read_source_table
        from orchestrator.sandbox import build

        tables = declared_tables()
        with self.pair.legacy.connect(
            legacy_db, build.LEGACY_APP_ROLE, self.pair.legacy_app_password
        ) as src:
            sources = [read_source_table(src, t) for t in tables]
        with self.pair.target.connect(
            target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as dst:
            dst.execute(sql.SQL("create schema {}").format(sql.Identifier(RAW_SCHEMA)))
            for s in sources:
                dst.execute(
                    sql.SQL("create table {} ({})").format(
                        sql.Identifier(RAW_SCHEMA, s.name),
                        sql.SQL(", ").join(
                            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type))
                            for c in s.columns
                        ),
                    )
                )
        spec = {"tables": [{"name": s.name, "columns": s.column_names} for s in sources]}
        self.checkpoint()
        log(f"{transport}: (a) raw binary COPY of {len(sources)} tables")
        run, doc = self.child(env, "raw-copy", spec)
        moved = sum(int(t["rows"]) for t in doc["tables"])
        expected = sum(self.results.source_rows.values())
        if moved != expected:
            raise BenchError(f"raw COPY moved {moved:,} rows, the source has {expected:,}")
        self.results.phases.append(
            Phase(
                key="a",
                label="(a) raw binary COPY",
                transport=transport,
                wall_s=run.wall_s,
                engine_s=float(doc["seconds"]),
                rows_moved=moved,
                rows_covered=moved,
                peak_rss_mb=run.peak_rss_mb,
                cpu_s=run.cpu_s,
                per_table=doc["tables"],
            )
        )
        log(f"{transport}: (a) {run.wall_s:.1f}s, {moved:,} rows")
        with self.pair.target.connect(
            target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as dst:
            if then is not None:  # more work on the copied tables before they go
                then(dst, sources)
            dst.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(RAW_SCHEMA)))

    def sync(
        self,
        transport: str,
        env: dict[str, str],
        key: str,
        label: str,
        *,
        expect_total: int | None = None,
        expect_nothing: bool = False,
        truth: dict[str, dict[str, int]] | None = None,
    ) -> None:
        self.checkpoint()
        log(f"{transport}: {label}")
        run, doc = self.diffmig(env, "sync", "--transport", transport)
        if doc.get("transport") != transport:
            raise BenchError(f"sync ran with transport {doc.get('transport')!r}, not {transport}")
        counts = {k: sum(int(t[k]) for t in doc["tables"]) for k in ("new", "modified", "deleted")}
        covered = sum(int(t["source_rows"]) for t in doc["tables"])
        moved = counts["new"] + counts["modified"] + counts["deleted"]
        phase = Phase(
            key=key,
            label=label,
            transport=transport,
            wall_s=run.wall_s,
            engine_s=float(doc["elapsed_s"]),
            rows_moved=moved,
            rows_covered=covered,
            peak_rss_mb=run.peak_rss_mb,
            cpu_s=run.cpu_s,
            counts=counts,
            per_table=[
                {k: t[k] for k in ("table", "source_rows", "new", "modified", "deleted", "seconds")}
                for t in doc["tables"]
            ],
        )
        self.results.phases.append(phase)
        log(f"{transport}: {label}: {run.wall_s:.1f}s, {counts}")
        if doc.get("retries"):
            self.results.checks.append(f"{transport} {label}: retries {doc['retries']}")
        if expect_total is not None:
            ok = counts["new"] == expect_total and moved == expect_total
            self._check(ok, f"{transport} {label}: {counts['new']:,} new of {expect_total:,} rows")
        if expect_nothing:
            self._check(moved == 0, f"{transport} {label}: {moved:,} changes (expected none)")
        if truth is not None:
            bad = []
            for t in doc["tables"]:
                want = truth.get(t["table"], {"new": 0, "modified": 0, "deleted": 0})
                got = {k: int(t[k]) for k in ("new", "modified", "deleted")}
                if got != want:
                    bad.append(f"{t['table']} {got} != log {want}")
            self._check(
                not bad,
                f"{transport} {label}: counts match the activity log"
                + (f" except: {'; '.join(bad)}" if bad else ""),
            )

    def _check(self, ok: bool, message: str) -> None:
        self.results.checks.append(("ok    " if ok else "WRONG ") + message)
        if not ok:
            log(f"CHECK FAILED: {message}")

    def activity(self, transport: str, legacy_db: str) -> dict[str, dict[str, int]]:
        """Run the activity; return the activity log's truth per table (new/modified/deleted)."""
        from orchestrator.catalog import declared_tables
        from orchestrator.sandbox import build

        log(f"{transport}: sandbox activity, {self.args.activity_days} days")
        summary = build.simulate_activity(
            self.pair, legacy_db, days=self.args.activity_days, seed=self.args.seed
        )
        names = [t.name for t in declared_tables()]
        with self.pair.legacy.connect(legacy_db) as conn:
            rows = conn.execute(
                "select table_name, kind, count(distinct legacy_id) from sandbox.activity_log "
                "where batch = %s and legacy_id is not null and table_name = any(%s) "
                "group by 1, 2",
                (summary.batch, names),
            ).fetchall()
            touched = conn.execute(
                "select count(*) from (select distinct table_name, legacy_id "
                "from sandbox.activity_log where batch = %s and legacy_id is not null "
                "and table_name = any(%s)) x",
                (summary.batch, names),
            ).fetchone()[0]
            changed = conn.execute(
                "select count(*) from (select distinct table_name, legacy_id "
                "from sandbox.activity_log where batch = %s and legacy_id is not null "
                "and table_name = any(%s) and kind <> 'update_same') x",
                (summary.batch, names),
            ).fetchone()[0]
            conn.execute("vacuum analyze")
        kind_map = {
            "insert": "new",
            "update": "modified",
            "update_untouched": "modified",
            "reinsert": "modified",
            "delete": "deleted",
        }
        truth: dict[str, dict[str, int]] = {}
        by_kind: dict[str, int] = {}
        for table, kind, n in rows:
            by_kind[kind] = by_kind.get(kind, 0) + int(n)
            if kind in kind_map:
                entry = truth.setdefault(table, {"new": 0, "modified": 0, "deleted": 0})
                entry[kind_map[kind]] += int(n)
        total = sum(self.results.source_rows.values())
        info = {
            "batch": summary.batch,
            "days": self.args.activity_days,
            "rows_written": int(touched),
            "rows_changed": int(changed),
            "fraction_written": touched / total if total else 0.0,
            "fraction_changed": changed / total if total else 0.0,
            "by_kind": by_kind,
            "truth": truth,
        }
        if not self.results.activity:
            self.results.activity = info
        elif self.results.activity.get("truth") != truth:
            self._check(False, f"{transport}: the activity differs from the first transport's")
        log(
            f"{transport}: activity wrote {touched:,} rows ({info['fraction_written']:.2%}), "
            f"changed {changed:,} ({info['fraction_changed']:.2%})"
        )
        return truth

    # --- detection against reladiff ---

    def detection(
        self, transport: str, legacy_db: str, target_db: str, truth: dict[str, dict[str, int]]
    ) -> None:
        from orchestrator.catalog import declared_tables, read_source_table
        from orchestrator.sandbox import build

        declared = {t.name: t for t in declared_tables()}
        tables = [t for t in DETECT_TABLES if t in declared]
        env = self.env(legacy_db, target_db)
        self.checkpoint()
        log(f"detection: diffmig detect --tables {','.join(tables)}")
        run, doc = self.diffmig(env, "detect", "--tables", ",".join(tables))
        self.results.peaks["detect"] = run.peak_rss_mb
        self.results.detection_run = {
            "diffmig_wall_s": run.wall_s,
            "diffmig_engine_s": float(doc["elapsed_s"]),
            "diffmig_peak_mb": run.peak_rss_mb,
            "diffmig_cpu_s": run.cpu_s,
        }
        by_table = {t["table"]: t for t in doc["tables"]}
        zero = {"new": 0, "modified": 0, "deleted": 0}
        rows: list[DetectRow] = []
        for name in tables:
            t = by_table[name]
            rows.append(
                DetectRow(
                    table=name,
                    source_rows=int(t["source_rows"]),
                    expected=truth.get(name, dict(zero)),
                    ours={k: int(t[k]) for k in ("new", "modified", "deleted")},
                    ours_s=float(t["seconds"]),
                )
            )
            self._check(
                rows[-1].ours == rows[-1].expected,
                f"detect {name}: {rows[-1].ours} vs activity log {rows[-1].expected}",
            )
        self.results.detection = rows
        if self.args.skip_reladiff:
            return
        try:
            import reladiff  # noqa: F401
        except ImportError:
            raise BenchError(
                "reladiff is not installed: `.venv/bin/pip install reladiff` "
                "(or pass --skip-reladiff)"
            ) from None
        with self.pair.legacy.connect(
            legacy_db, build.LEGACY_APP_ROLE, self.pair.legacy_app_password
        ) as src:
            columns = {n: read_source_table(src, declared[n]).column_names for n in tables}
        src_uri = (
            f"postgresql://{build.LEGACY_APP_ROLE}:{self.pair.legacy_app_password}"
            f"@127.0.0.1:{self.pair.legacy.port}/{legacy_db}"
        )
        dst_uri = (
            f"postgresql://{build.TARGET_TOOL_ROLE}:{self.pair.target_tool_password}"
            f"@127.0.0.1:{self.pair.target.port}/{target_db}"
        )
        renv = dict(env, BENCH_SOURCE_URI=src_uri, BENCH_TARGET_URI=dst_uri)
        for row in rows:
            self.checkpoint()
            log(f"detection: reladiff {row.table} ({self.args.reladiff_threads} threads per db)")
            spec = {
                "table": row.table,
                "key": declared[row.table].key,
                "columns": columns[row.table],
                "threads": self.args.reladiff_threads,
            }
            run, out = self.child(renv, "reladiff", spec)
            row.reladiff = out["counts"]
            row.reladiff_s = float(out["seconds"])
            row.reladiff_wall_s = run.wall_s
            row.reladiff_peak_mb = run.peak_rss_mb
            row.reladiff_cpu_s = run.cpu_s
            log(f"detection: reladiff {row.table}: {row.reladiff_s:.1f}s {row.reladiff}")
        self.results.detection_run["reladiff"] = {
            "version": _reladiff_version(),
            "algorithm": "hashdiff (cross-database)",
            "thread_count_per_db": self.args.reladiff_threads,
            "max_threadpool_size": self.args.reladiff_threads * 2,
            "bisection_factor": 32,
            "bisection_threshold": 16384,
            "where_on_mirror": "_deleted_at is null",
            "skip_sort_results": True,
        }

    # --- the whole run ---

    def run(self) -> Results:
        self.start_clusters()
        self.build()
        for i, transport in enumerate(self.transports):
            self.run_transport(transport, with_detection=(i == 0))
        for p in self.results.phases:
            self.results.peaks[f"{p.transport} {p.key}"] = p.peak_rss_mb
        self.results.machine["loadavg_end"] = _loadavg()
        return self.results


# --- the report -------------------------------------------------------------------------------


def _fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:,.2f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _nmd(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "-"
    return f"{counts.get('new', 0):,}/{counts.get('modified', 0):,}/{counts.get('deleted', 0):,}"


def ratios(results: Results) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    transports = list(dict.fromkeys(p.transport for p in results.phases))
    for transport in transports:
        a, b, c, d = (results.phase(transport, k) for k in "abcd")
        for num, den, name, limit in (
            (b, a, "(b)/(a) full sync vs raw COPY", TARGET_FULL_VS_COPY),
            (c, b, "(c)/(b) no-change sync vs full", TARGET_NOCHANGE_VS_FULL),
            (d, b, "(d)/(b) ~1% sync vs full", TARGET_ONE_PCT_VS_FULL),
        ):
            if num is None or den is None:
                continue
            wall = num.wall_s / den.wall_s
            engine = num.engine_s / den.engine_s if den.engine_s else None
            cpu = num.cpu_s / den.cpu_s if num.cpu_s is not None and den.cpu_s else None
            out.append(
                {
                    "transport": transport,
                    "ratio": name,
                    "wall": wall,
                    "engine": engine,
                    "cpu": cpu,
                    "target": limit,
                    "pass": wall <= limit,
                }
            )
    return out


def render_per_table(results: Results) -> list[str]:
    lines: list[str] = []
    for transport in dict.fromkeys(p.transport for p in results.phases):
        phases = [p for p in (results.phase(transport, k) for k in "abcde") if p is not None]
        secs = {p.key: {t["table"]: float(t["seconds"]) for t in p.per_table} for p in phases}
        lines.append("")
        header = f"{transport + ': seconds per table':<34} {'rows':>10}" + "".join(
            f" {'(' + p.key + ')':>8}" for p in phases
        )
        lines.append(header)
        lines.append("-" * len(header))
        for name, rows in sorted(results.source_rows.items(), key=lambda kv: -kv[1]):
            lines.append(
                f"{name:<34} {rows:>10,}"
                + "".join(f" {secs[p.key].get(name, 0.0):>8.2f}" for p in phases)
            )
    return lines


def render(results: Results, *, per_table: bool = False) -> str:
    lines: list[str] = []
    m = results.machine
    total = sum(results.source_rows.values())
    lines.append("=" * 100)
    lines.append(
        f"diffmig sync benchmark: scale {results.scale}, seed {results.seed}, "
        f"activity {results.activity_days} days"
    )
    lines.append(
        f"machine: {m['cpus']} CPUs, {m['mem_gb']:.0f} GB, {m['python']}, PostgreSQL "
        f"{m.get('postgres', '?')}; load average at start {m['loadavg_start']}, "
        f"at end {m.get('loadavg_end', '?')}"
    )
    lines.append(
        f"legacy: {total:,} rows in {len(results.source_rows)} declared tables "
        f"(built in {results.build_s:.0f}s); largest: "
        + ", ".join(
            f"{n} {c:,}" for n, c in sorted(results.source_rows.items(), key=lambda kv: -kv[1])[:3]
        )
    )
    act = results.activity
    if act:
        lines.append(
            f"activity: {act['rows_changed']:,} rows really changed "
            f"({act['fraction_changed']:.2%} of all rows), {act['rows_written']:,} written "
            f"({act['fraction_written']:.2%}, incl. same-value rewrites); by kind: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(act["by_kind"].items()))
        )
    lines.append("")
    header = (
        f"{'transport':<9} {'phase':<30} {'wall s':>9} {'engine s':>9} {'cpu s':>8} "
        f"{'rows moved':>11} {'moved/s':>10} {'covered/s':>10} {'peak RSS':>9}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for p in results.phases:
        cpu = "-" if p.cpu_s is None else f"{p.cpu_s:.2f}"
        lines.append(
            f"{p.transport:<9} {p.label:<30} {p.wall_s:>9.2f} {p.engine_s:>9.2f} {cpu:>8} "
            f"{p.rows_moved:>11,} {p.rows_per_s:>10,.0f} {p.covered_per_s:>10,.0f} "
            f"{p.peak_rss_mb:>6.0f} MB"
        )
    lines.append(
        "  wall s = the child process, start to exit; engine s = the sync's own elapsed time; "
        "cpu s = CPU of the child plus both servers' backends meanwhile (less disturbed by other "
        "load than wall time, though not immune to it on a shared VM); moved/s = rows written to the destination per wall second; "
        "covered/s = source rows compared (or copied) per wall second; peak RSS = the child's"
    )
    lines.append("")
    header = (
        f"{'transport':<9} {'ratio':<32} {'wall':>8} {'engine':>8} {'cpu':>8} {'target':>9}  "
        "verdict (on wall)"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for r in ratios(results):
        engine = "-" if r["engine"] is None else f"{r['engine']:.3f}"
        cpu = "-" if r["cpu"] is None else f"{r['cpu']:.3f}"
        lines.append(
            f"{r['transport']:<9} {r['ratio']:<32} {r['wall']:>8.3f} {engine:>8} {cpu:>8} "
            f"{'<= ' + format(r['target'], '.2f'):>9}  {_verdict(r['pass'])}"
        )
    if results.peaks:
        worst_name, worst = max(results.peaks.items(), key=lambda kv: kv[1])
        orch = {k: v for k, v in results.peaks.items() if not k.endswith(" a")}
        if orch:
            worst_name, worst = max(orch.items(), key=lambda kv: kv[1])
        lines.append(
            f"{'all':<9} {'orchestrator peak RSS':<32} {worst:>6.0f} MB ({worst_name})"
            f"{'< ' + format(TARGET_PEAK_MB, '.0f') + ' MB':>11}  {_verdict(worst < TARGET_PEAK_MB)}"
        )
    if per_table:
        lines.extend(render_per_table(results))
    if results.detection:
        lines.append("")
        dr = results.detection_run
        rel = dr.get("reladiff")
        lines.append(
            "detection after the same activity (source public.<t> vs mirror "
            "diffmig_staging.<t>, key id, all legacy columns)"
        )
        if rel:
            lines.append(
                f"  reladiff {rel['version']}: {rel['algorithm']}, {rel['thread_count_per_db']} "
                f"threads per database, threadpool {rel['max_threadpool_size']}, bisection "
                f"factor {rel['bisection_factor']}, threshold {rel['bisection_threshold']}, "
                f"where {rel['where_on_mirror']} on the mirror; counts new/modified/deleted "
                "derived from its -/+ keys"
            )
        header = (
            f"{'table':<22} {'rows':>10} {'log n/m/d':>17} {'diffmig n/m/d':>17} {'diffmig s':>9} "
            f"{'reladiff -/+':>15} {'reladiff n/m/d':>17} {'reladiff s':>10} {'speed-up':>8}  verdict"
        )
        lines.append(header)
        lines.append("-" * len(header))
        ours_total = 0.0
        theirs_total = 0.0
        for row in results.detection:
            ours_total += row.ours_s
            pm = "-"
            if row.reladiff is not None:
                pm = f"{row.reladiff['minus']:,}/{row.reladiff['plus']:,}"
                theirs_total += row.reladiff_s or 0.0
            speed = row.speedup
            lines.append(
                f"{row.table:<22} {row.source_rows:>10,} {_nmd(row.expected):>17} "
                f"{_nmd(row.ours):>17} {row.ours_s:>9.2f} {pm:>15} {_nmd(row.reladiff):>17} "
                f"{_fmt_s(row.reladiff_s):>10} "
                f"{'-' if speed is None else format(speed, '.1f') + 'x':>8}  "
                f"{'-' if speed is None else _verdict(speed >= TARGET_DETECT_SPEEDUP)}"
            )
        if theirs_total:
            speed = theirs_total / ours_total if ours_total else 0.0
            lines.append(
                f"{'total':<22} {'':>10} {'':>17} {'':>17} {ours_total:>9.2f} {'':>15} {'':>17} "
                f"{theirs_total:>10.2f} {speed:>7.1f}x  "
                f"{_verdict(speed >= TARGET_DETECT_SPEEDUP)} (target >= {TARGET_DETECT_SPEEDUP:.0f}x)"
            )
        lines.append(
            f"  diffmig detect as a whole command: {dr['diffmig_wall_s']:.2f}s wall "
            f"(engine {dr['diffmig_engine_s']:.2f}s), cpu {_fmt_s(dr.get('diffmig_cpu_s'))}s, "
            f"peak RSS {dr['diffmig_peak_mb']:.0f} MB"
        )
        if rel:
            done = [r for r in results.detection if r.reladiff_wall_s is not None]
            lines.append(
                "  reladiff processes: "
                + ", ".join(
                    f"{r.table} {r.reladiff_wall_s:.2f}s wall / cpu {_fmt_s(r.reladiff_cpu_s)}s "
                    f"/ {r.reladiff_peak_mb:.0f} MB"
                    for r in done
                )
            )
            their_wall = sum(r.reladiff_wall_s or 0.0 for r in done)
            cpus = [r.reladiff_cpu_s for r in done]
            our_cpu = dr.get("diffmig_cpu_s")
            line = (
                f"  whole commands: reladiff {their_wall:.2f}s wall vs diffmig detect "
                f"{dr['diffmig_wall_s']:.2f}s = {their_wall / dr['diffmig_wall_s']:.1f}x"
            )
            if our_cpu and all(c is not None for c in cpus):
                their_cpu = sum(c for c in cpus if c is not None)
                line += (
                    f"; cpu reladiff {their_cpu:.2f}s vs diffmig {our_cpu:.2f}s = "
                    f"{their_cpu / our_cpu:.1f}x"
                )
            lines.append(line)
        lines.append(
            "  diffmig s = the engine's time for the table (planning, bucket checksums, per-row "
            "fingerprints of differing buckets); reladiff s = connect + diff + reading every "
            "difference"
        )
    if results.checks:
        lines.append("")
        lines.append("checks:")
        lines.extend(f"  {c}" for c in results.checks)
    lines.append("=" * 100)
    return "\n".join(lines)


def to_json(results: Results) -> dict[str, Any]:
    doc = asdict(results)
    doc["ratios"] = ratios(results)
    for row, raw in zip(results.detection, doc["detection"], strict=True):
        raw["speedup"] = row.speedup
    for p, raw in zip(results.phases, doc["phases"], strict=True):
        raw["rows_per_s"] = p.rows_per_s
        raw["covered_per_s"] = p.covered_per_s
    return doc


# --- machine facts ----------------------------------------------------------------------------


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _machine() -> dict[str, Any]:
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    return {
        "cpus": os.cpu_count(),
        "mem_gb": mem_gb,
        "python": f"Python {platform.python_version()}",
        "loadavg_start": _loadavg(),
    }


def _reladiff_version() -> str:
    try:
        from importlib.metadata import version

        return version("reladiff")
    except Exception:  # noqa: BLE001
        return "?"


# --- child modes ------------------------------------------------------------------------------


def child_raw_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy every table, source -> destination bench_raw, binary COPY streamed block by block."""
    import psycopg
    from psycopg import sql

    from orchestrator.settings import load_settings
    from orchestrator.sync.transports import stream_copy

    settings = load_settings(environ=os.environ, cwd=Path.cwd())
    out: list[dict[str, Any]] = []
    started = time.perf_counter()
    with (
        psycopg.connect(settings.source.conninfo(application_name="bench-raw-copy")) as src,
        psycopg.connect(settings.target.conninfo(application_name="bench-raw-copy")) as dst,
    ):
        for table in spec["tables"]:
            t0 = time.perf_counter()
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in table["columns"])
            query = sql.SQL("select {} from {}").format(
                cols, sql.Identifier("public", table["name"])
            )
            copy_in = sql.SQL("copy {} ({}) from stdin (format binary)").format(
                sql.Identifier(RAW_SCHEMA, table["name"]), cols
            )
            # The same relay as diffmig's copy transport (blocks of rows passed on together):
            # this phase is the floor for moving the rows, so it moves them the same way.
            rows = stream_copy(src, dst, query, copy_in)
            dst.commit()
            src.commit()
            out.append(
                {
                    "table": table["name"],
                    "rows": rows,
                    "seconds": round(time.perf_counter() - t0, 3),
                }
            )
    return {"tables": out, "seconds": round(time.perf_counter() - started, 3)}


def child_reladiff(spec: dict[str, Any]) -> dict[str, Any]:
    """reladiff on one table: source public.<t> against the mirror diffmig_staging.<t>."""
    import reladiff

    threads = int(spec["threads"])
    key = spec["key"]
    extra = tuple(c for c in spec["columns"] if c != key)
    started = time.perf_counter()
    source = reladiff.connect_to_table(
        os.environ["BENCH_SOURCE_URI"],
        ("public", spec["table"]),
        key,
        thread_count=threads,
        extra_columns=extra,
    )
    mirror = reladiff.connect_to_table(
        os.environ["BENCH_TARGET_URI"],
        ("diffmig_staging", spec["table"]),
        key,
        thread_count=threads,
        extra_columns=extra,
        where="_deleted_at is null",
    )
    minus: set[int] = set()
    plus: set[int] = set()
    # skip_sort_results: reladiff 0.6.0 sorts the differing rows by their whole tuple, which
    # fails on NULLs ("'<' not supported between 'str' and 'NoneType'"); we only count keys.
    with reladiff.diff_tables(
        source, mirror, threaded=True, max_threadpool_size=threads * 2, skip_sort_results=True
    ) as diff:
        for sign, row in diff:
            (minus if sign == "-" else plus).add(int(row[0]))
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "counts": {
            "minus": len(minus),
            "plus": len(plus),
            "new": len(minus - plus),
            "modified": len(minus & plus),
            "deleted": len(plus - minus),
        },
    }


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync_benchmark",
        description="Benchmark diffmig's sync against a raw binary COPY and reladiff, on its own "
        "throwaway cluster pair.",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="legacy data scale (default 1.0)")
    parser.add_argument("--seed", type=int, default=7, help="generation and activity seed")
    parser.add_argument(
        "--transports",
        default="copy,fdw",
        help="comma-separated transports to measure, in order (default copy,fdw)",
    )
    parser.add_argument(
        "--activity-days",
        type=int,
        default=7,
        help="days of simulated activity before (d) (default 7: about 1%% of the rows)",
    )
    parser.add_argument("--skip-reladiff", action="store_true", help="do not run reladiff")
    parser.add_argument(
        "--reladiff-threads",
        type=int,
        default=4,
        help="reladiff worker threads per database (threadpool twice that, as its CLI's -j)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument(
        "--fast-disk",
        action="store_true",
        help="clusters without fsync, full page writes and synchronous commit, as the sandbox and "
        "the tests run (default: PostgreSQL's durable defaults, as a real server)",
    )
    parser.add_argument(
        "--per-table", action="store_true", help="also print each table's seconds per phase"
    )
    parser.add_argument("--child", choices=["raw-copy", "reladiff"], help=argparse.SUPPRESS)
    parser.add_argument("--child-spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    args.transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    bad = [t for t in args.transports if t not in TRANSPORTS]
    if bad or not args.transports or len(set(args.transports)) != len(args.transports):
        parser.error(f"--transports takes distinct values among {', '.join(TRANSPORTS)}")
    if args.scale <= 0:
        parser.error("--scale must be > 0")
    if args.activity_days < 1:
        parser.error("--activity-days must be at least 1")
    if args.reladiff_threads < 1:
        parser.error("--reladiff-threads must be at least 1")
    return args


def _write_json(path: str | None, results: Results, failed: str | None = None) -> None:
    if not path:
        return
    doc = to_json(results)
    doc["failed"] = failed
    Path(path).write_text(json.dumps(doc, indent=2, default=str))
    log(f"figures written to {path}")


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child_spec).read_text())
        result = child_raw_copy(spec) if args.child == "raw-copy" else child_reladiff(spec)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    if not args.skip_reladiff:
        try:
            import reladiff  # noqa: F401
        except ImportError:
            log(
                "reladiff is not installed (a benchmark-only dependency): "
                "`.venv/bin/pip install reladiff`, or pass --skip-reladiff"
            )
            return 3
    signal.signal(signal.SIGTERM, _on_sigterm)
    bench = Benchmark(args)
    started = time.monotonic()
    results: Results | None = None
    try:
        results = bench.run()
    except BenchError as exc:
        log(f"FAILED: {exc}")
        if bench.results.phases:
            sys.stdout.write(render(bench.results, per_table=args.per_table) + "\n")
            _write_json(args.json, bench.results, failed=str(exc))
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        log("destroying the benchmark clusters")
        bench.destroy()
    sys.stdout.write(render(results, per_table=args.per_table) + "\n")
    log(f"benchmark done in {time.monotonic() - started:.0f}s")
    _write_json(args.json, results)
    wrong = [c for c in results.checks if c.startswith("WRONG")]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
