"""Scenario 8, load: a full run, then delta runs in a row with simulated legacy activity between
them (orchestrator/sandbox/build.py simulate_activity). Each run is a `diffmig run` process:
its peak RSS (os.wait4's rusage of that very child, taken in benchmarks/peak_rss.py), its
time, and after it, what it must not leave behind: connections of the tool's roles
(pg_stat_activity, back to the baseline), temporary tables, prepared transactions, and
bookkeeping beyond the retention rule (orchestrator/bookkeeping/runs.py apply_retention:
analysis keys and checkpoints of the runs older than the 5 most recent).

At the CI scale: a full run of a subset of entities and 3 deltas (about 40 s on two cores).
`pytest tests/reliability/test_load.py --scale 1.0`: a sandbox of its own at that scale, every
entity, 5 deltas. Times are reported as ratios to the full run, not asserted tightly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.sandbox import build
from tests.conftest import (
    TEST_ACTIVITY_DAYS,
    TEST_SCALE,
    TEST_SEED,
    ClusterPair,
    DbPair,
    make_db_pair,
)
from tests.reliability.conftest import RecordFigures

# In CI at the small scale (about 40 s on two cores: 3 entities, a full run and 3 deltas); the
# full version (`--scale 1.0`) is the one whose figures README.md quotes.
pytestmark = [pytest.mark.db]

# At the CI scale: a few entities that need no other entity's shared staging views (dbt's
# per-entity overhead dominates a small run; `--entities orders` alone on a fresh destination
# fails: its staging views are built by the products entity).
CI_ENTITIES = ["offices", "products", "profiles"]
CI_DELTAS = 3
FULL_DELTAS = 5
ACTIVITY_DAYS = 2
# Fewer than the runs made, so that the retention rule has something to delete.
KEEP_RUNS = 2
PEAK_RSS = Path(__file__).resolve().parents[2] / "benchmarks" / "peak_rss.py"


@dataclass
class RunFigures:
    label: str
    exit_code: int
    seconds: float
    peak_rss_mb: float
    rows_synced: int
    rows_applied: int
    tool_connections_after: int
    temp_tables_after: int
    prepared_xacts_after: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@pytest.fixture(scope="module")
def load_pair(clusters: ClusterPair, reliability_scale: float) -> Iterator[DbPair]:
    if reliability_scale == TEST_SCALE:
        dbs = make_db_pair(clusters)
    else:
        # A sandbox of its own at the asked scale, built as the session's templates are.
        pair = clusters.pair
        base, legacy, target = "load_legacy_base", "load_legacy", "load_supabase"
        for cluster, name in ((pair.legacy, base), (pair.legacy, legacy), (pair.target, target)):
            build.drop_database(cluster, name)
        build.build_legacy(pair, base, seed=TEST_SEED, scale=reliability_scale)
        build.build_target(pair, target)
        build.simulate_earlier_migration(pair, base, target, seed=TEST_SEED)
        build.clone_database(pair.legacy, base, legacy)
        build.simulate_activity(pair, legacy, days=TEST_ACTIVITY_DAYS, seed=TEST_SEED)
        build.drop_database(pair.legacy, base)
        dbs = DbPair(clusters, legacy, target)
    yield dbs
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def tool_connections(dbs: DbPair) -> int:
    """Sessions of the tool's roles on both clusters (in this pair's databases), the postgres_fdw
    sessions the destination opens on the legacy side included."""
    total = 0
    for conn_factory, role, dbname in (
        (dbs.target_admin, build.TARGET_TOOL_ROLE, dbs.target_db),
        (dbs.legacy_admin, build.LEGACY_APP_ROLE, dbs.legacy_db),
    ):
        with conn_factory() as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where usename = %s and datname = %s "
                "and pid <> pg_backend_pid()",
                (role, dbname),
            ).fetchone()
            total += int(row[0]) if row else 0
    return total


def settled_connections(dbs: DbPair, baseline: int, wait: float = 10.0) -> int:
    """The tool's sessions, given a few seconds to close (a backend exits after its client)."""
    deadline = time.monotonic() + wait
    count = tool_connections(dbs)
    while count > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
        count = tool_connections(dbs)
    return count


def leftovers(dbs: DbPair) -> tuple[int, int]:
    with dbs.target_admin() as conn:
        temp = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname like 'pg_temp%%' and c.relnamespace <> pg_my_temp_schema()"
        ).fetchone()
        prepared = conn.execute("select count(*) from pg_prepared_xacts").fetchone()
    return (int(temp[0]) if temp else 0, int(prepared[0]) if prepared else 0)


def run_measured(dbs: DbPair, cwd: Path, label: str, args: list[str], baseline: int) -> RunFigures:
    """One `diffmig run` child; its own rusage from wait4 gives its peak RSS, taken in the small
    parent benchmarks/peak_rss.py (spawned from this test process, the child's peak would start
    at this process's resident size: 4.7 GB after other scenarios ran in the same worker)."""
    command = [sys.executable, "-m", "orchestrator", "--output", "json", "run", *args]
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = Path(scratch) / "rusage.json"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(PEAK_RSS), str(report), "--", *command],
            env={**os.environ, **dbs.env(), "DIFFMIG_KEEP_RUNS": str(KEEP_RUNS)},
            cwd=cwd,
            stdout=out,
            stderr=err,
            text=True,
        )
        proc.wait()
        seconds = time.monotonic() - started
        usage = json.loads(report.read_text(encoding="utf-8"))
        err.seek(0)
        stderr = err.read()
    assert proc.returncode == 0, (label, proc.returncode, stderr[-3000:])
    with dbs.target_admin() as conn:
        row = conn.execute(
            "select coalesce(sum(rows_synced), 0), coalesce(sum(rows_applied), 0) "
            "from diffmig.run_steps where run_id = (select max(run_id) from diffmig.runs "
            "where command = 'run')"
        ).fetchone()
    temp, prepared = leftovers(dbs)
    return RunFigures(
        label=label,
        exit_code=proc.returncode,
        seconds=round(seconds, 1),
        peak_rss_mb=round(usage["maxrss_kb"] / 1024, 1),  # Linux: kilobytes
        rows_synced=int(row[0]) if row else 0,
        rows_applied=int(row[1]) if row else 0,
        tool_connections_after=settled_connections(dbs, baseline),
        temp_tables_after=temp,
        prepared_xacts_after=prepared,
    )


def test_full_then_deltas_flat_memory_no_leaks(
    load_pair: DbPair,
    reliability_scale: float,
    tmp_path: Path,
    record_figures: RecordFigures,
) -> None:
    dbs = load_pair
    small = reliability_scale == TEST_SCALE
    entities = ["--entities", ",".join(CI_ENTITIES)] if small else []
    deltas = CI_DELTAS if small else FULL_DELTAS
    baseline = tool_connections(dbs)
    temp_before, prepared_before = leftovers(dbs)

    runs = [run_measured(dbs, tmp_path, "full", ["--mode", "full", *entities], baseline)]
    for n in range(1, deltas + 1):
        build.simulate_activity(dbs.pair, dbs.legacy_db, days=ACTIVITY_DAYS, seed=TEST_SEED + n)
        runs.append(run_measured(dbs, tmp_path, f"delta {n}", entities, baseline))

    for r in runs:
        assert r.tool_connections_after <= baseline, r
        assert r.temp_tables_after <= temp_before, r
        assert r.prepared_xacts_after <= prepared_before, r
    full = runs[0]
    delta_runs = runs[1:]
    # Memory stays flat: no delta run peaks much above the full run (a leak across runs would
    # not show in separate processes, so also: the deltas do not grow one after the other).
    peak = max(r.peak_rss_mb for r in delta_runs)
    assert peak <= full.peak_rss_mb * 1.25 + 50, [r.peak_rss_mb for r in runs]
    assert delta_runs[-1].peak_rss_mb <= delta_runs[0].peak_rss_mb * 1.25 + 50
    # A delta run is cheaper than the full run (loose bound: dbt's per-entity overhead is fixed).
    ratios = [round(r.seconds / full.seconds, 2) for r in delta_runs]
    assert max(ratios) <= 1.5, ratios

    with dbs.target_admin() as conn:
        runs_with_keys = conn.execute(
            "select count(distinct a.run_id) from diffmig.analysis_keys k "
            "join diffmig.analyses a using (analysis_id)"
        ).fetchone()
        runs_with_checkpoints = conn.execute(
            "select count(distinct run_id) from diffmig.checkpoints"
        ).fetchone()
        analysis_keys = conn.execute("select count(*) from diffmig.analysis_keys").fetchone()
        total_runs = conn.execute("select count(*) from diffmig.runs").fetchone()
    assert runs_with_keys is not None
    assert runs_with_checkpoints is not None
    assert int(runs_with_keys[0]) <= KEEP_RUNS
    assert int(runs_with_checkpoints[0]) <= KEEP_RUNS

    record_figures(
        "load",
        {
            "scale": reliability_scale,
            "entities": CI_ENTITIES if small else "all",
            "deltas": deltas,
            "activity_days_between_runs": ACTIVITY_DAYS,
            "runs": [r.as_dict() for r in runs],
            "delta_to_full_time_ratios": ratios,
            "peak_rss_mb_full": full.peak_rss_mb,
            "peak_rss_mb_deltas_max": peak,
            "connections_baseline": baseline,
            "runs_total": int(total_runs[0]) if total_runs else None,
            "runs_keeping_analysis_keys": int(runs_with_keys[0]),
            "runs_keeping_checkpoints": int(runs_with_checkpoints[0]),
            "analysis_keys_rows": int(analysis_keys[0]) if analysis_keys else None,
            "retention_keep_runs": KEEP_RUNS,
        },
    )
