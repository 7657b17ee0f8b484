"""Fixtures: a real PostgreSQL cluster pair (legacy + Supabase) for the whole session, template
databases built once, and a fresh clone of each template per test.

Session start-up builds, at a small scale:
    legacy_base_tpl   the generated legacy database, as the earlier migration saw it
    supabase_tpl      the Supabase emulation, filled as the earlier scripts left it
    legacy_tpl        legacy_base_tpl moved on by the simulated activity since then
A test that asks for `db_pair` gets its own copies (`CREATE DATABASE ... TEMPLATE`, a file copy
that takes well under a second), so tests never see each other's changes.

Set DIFFMIG_TEST_SCALE to build the templates at another scale (default 0.01).
"""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from orchestrator.sandbox import build
from orchestrator.sandbox.clusters import LocalCluster, find_pg_bindir, free_port, sandbox_data_root

TEST_SCALE = float(os.environ.get("DIFFMIG_TEST_SCALE", "0.01"))
TEST_SEED = 7
TEST_ACTIVITY_DAYS = 21

LEGACY_BASE_TEMPLATE = "legacy_base_tpl"
LEGACY_TEMPLATE = "legacy_tpl"
TARGET_TEMPLATE = "supabase_tpl"

_clone_ids = itertools.count(1)


# The longest modules, started first: with two workers (scripts/test.sh: --dist loadfile
# --no-loadscope-reorder) each takes one of them at once instead of one ending the run alone.
LONGEST_FIRST = ("tests/reliability/test_crash.py", "tests/integration/test_dbt_lint.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    items.sort(key=lambda item: 0 if item.nodeid.startswith(LONGEST_FIRST) else 1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--scale",
        type=float,
        default=None,
        help="scale of the reliability suite's own sandbox (tests/reliability; default: the "
        "small CI scale; 1.0 = the legacy database's real volumes)",
    )


@dataclass
class ClusterPair:
    """The session's two clusters, wrapped in the sandbox's own pair type."""

    pair: build.SandboxPair

    @property
    def legacy(self) -> LocalCluster:
        return self.pair.legacy

    @property
    def target(self) -> LocalCluster:
        return self.pair.target


@dataclass
class DbPair:
    """One test's own legacy and destination databases."""

    clusters: ClusterPair
    legacy_db: str
    target_db: str

    @property
    def pair(self) -> build.SandboxPair:
        return self.clusters.pair

    def legacy_admin(self) -> psycopg.Connection:
        return self.clusters.legacy.connect(self.legacy_db)

    def legacy_app(self) -> psycopg.Connection:
        """As the legacy app's role, the one diffmig reads with."""
        return self.clusters.legacy.connect(
            self.legacy_db, build.LEGACY_APP_ROLE, self.pair.legacy_app_password
        )

    def target_admin(self) -> psycopg.Connection:
        return self.clusters.target.connect(self.target_db)

    def target_tool(self) -> psycopg.Connection:
        """As Supabase's `postgres` role (no superuser), the one diffmig writes with."""
        return self.clusters.target.connect(
            self.target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        )

    def diffmig(
        self, cwd: Path, *args: str, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """The CLI, as a user runs it in `cwd` with this pair's .env settings."""
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env={**os.environ, **self.env()},
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def env(self) -> dict[str, str]:
        """The settings diffmig would read from .env for this pair."""
        return {
            "SOURCE_DB_HOST": "127.0.0.1",
            "SOURCE_DB_PORT": str(self.clusters.legacy.port),
            "SOURCE_DB_USER": build.LEGACY_APP_ROLE,
            "SOURCE_DB_PASSWORD": self.pair.legacy_app_password,
            "SOURCE_DB_NAME": self.legacy_db,
            "TARGET_DB_HOST": "127.0.0.1",
            "TARGET_DB_PORT": str(self.clusters.target.port),
            "TARGET_DB_USER": build.TARGET_TOOL_ROLE,
            "TARGET_DB_PASSWORD": self.pair.target_tool_password,
            "TARGET_DB_NAME": self.target_db,
        }


@pytest.fixture(scope="session", autouse=True)
def reports_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Each worker's reports in its own directory: reports are named by run id, and two
    workers' destinations both have a run 2 (one would read the other's report)."""
    path = Path(tmp_path_factory.mktemp("reports"))
    previous = os.environ.get("DIFFMIG_REPORTS_DIR")
    os.environ["DIFFMIG_REPORTS_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("DIFFMIG_REPORTS_DIR", None)
    else:
        os.environ["DIFFMIG_REPORTS_DIR"] = previous


@pytest.fixture(scope="session")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterPair]:
    root = sandbox_data_root(Path(tmp_path_factory.mktemp("clusters")))
    bindir = find_pg_bindir()
    # Distinctive passwords, so tests can look for them in logs and reports.
    pair = build.SandboxPair(
        legacy=LocalCluster(
            "legacy",
            root / "legacy",
            free_port(),
            build.LEGACY_SUPERUSER,
            "LegacySuper-" + secrets.token_hex(8),
            bindir,
        ),
        target=LocalCluster(
            "supabase",
            root / "supabase",
            free_port(),
            build.TARGET_SUPERUSER,
            "SupaSuper-" + secrets.token_hex(8),
            bindir,
        ),
        legacy_app_password="LegacyApp-" + secrets.token_hex(8),
        target_tool_password="SupaTool-" + secrets.token_hex(8),
    )
    for cluster in (pair.legacy, pair.target):
        cluster.init()
        cluster.start()
    try:
        build.build_legacy(pair, LEGACY_BASE_TEMPLATE, seed=TEST_SEED, scale=TEST_SCALE)
        build.build_target(pair, TARGET_TEMPLATE)
        build.simulate_earlier_migration(
            pair, LEGACY_BASE_TEMPLATE, TARGET_TEMPLATE, seed=TEST_SEED
        )
        build.clone_database(pair.legacy, LEGACY_BASE_TEMPLATE, LEGACY_TEMPLATE)
        build.simulate_activity(pair, LEGACY_TEMPLATE, days=TEST_ACTIVITY_DAYS, seed=TEST_SEED)
        yield ClusterPair(pair)
    finally:
        pair.legacy.destroy()
        pair.target.destroy()


def make_db_pair(clusters: ClusterPair, legacy_template: str = LEGACY_TEMPLATE) -> DbPair:
    n = next(_clone_ids)
    legacy_db, target_db = f"legacy_{n}", f"supabase_{n}"
    build.clone_database(clusters.legacy, legacy_template, legacy_db)
    build.clone_database(clusters.target, TARGET_TEMPLATE, target_db)
    return DbPair(clusters, legacy_db, target_db)


@pytest.fixture
def db_pair(clusters: ClusterPair) -> Iterator[DbPair]:
    """A fresh legacy database (after the activity) and destination (after the earlier scripts)."""
    dbs = make_db_pair(clusters)
    yield dbs
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)
