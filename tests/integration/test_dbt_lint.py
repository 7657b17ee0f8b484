"""sqlfluff (dbt templater, postgres dialect) on every model, snapshot and dbt test, against the
test cluster (the dbt templater compiles the project, which needs a database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DbPair

ROOT = Path(__file__).resolve().parents[2]


def test_sqlfluff_passes(db_pair: DbPair) -> None:
    env = {
        **os.environ,
        **db_pair.env(),
        "DBT_ENV_SECRET_TARGET_DB_PASSWORD": db_pair.env()["TARGET_DB_PASSWORD"],
    }
    paths = [
        p
        for p in ("models", "snapshots", "tests/dbt", "analyses")
        if any((ROOT / p).rglob("*.sql"))
    ]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sqlfluff"), "lint", *paths, "--disable-progress-bar"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
