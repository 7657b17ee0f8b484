"""diffmig never switches off what guards the app's data (world.md section 4): Supabase lets
`postgres` set session_replication_role (which silences triggers and foreign keys) and it owns
the app tables (so it could disable their triggers), but the app's constraints and triggers are
part of the proof. Checked twice: in every SQL and Python file the tool and its dbt project ship,
and in what the destination server logged (`log_statement = all`) during a real run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from psycopg import sql

from orchestrator.catalog import PROJECT_ROOT
from orchestrator.sandbox.clusters import LocalCluster
from tests.conftest import DbPair

BYPASSES = re.compile(
    r"\bset\s+(local\s+|session\s+)?session_replication_role"
    r"|set_config\s*\(\s*'session_replication_role'"
    r"|\bsession_replication_role\s*(=|to)\s*'?(replica|local)"
    r"|\bdisable\s+(always\s+|replica\s+)?trigger"
    r"|\balter\s+table\b[^;]*?\bdisable\b"
    r"|\badd\s+constraint\b[^;]*?\bnot\s+valid\b",
    re.I,
)
# What ships: the package (the sandbox emulates the platform, which grants the parameter: not the
# tool), the dbt project.
SHIPPED = ("orchestrator", "models", "macros", "snapshots", "analyses", "seeds", "tests/dbt")


def _shipped_files() -> list[Path]:
    files = [PROJECT_ROOT / "profiles.yml", PROJECT_ROOT / "dbt_project.yml"]
    for folder in SHIPPED:
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".sql", ".yml", ".yaml", ".jinja", ".csv") and (
                "sandbox" not in path.relative_to(PROJECT_ROOT).parts
            ):
                files.append(path)
    return files


_SQL_COMMENTS = re.compile(r"\{#.*?#\}|/\*.*?\*/|--[^\n]*", re.S)
_HASH_COMMENTS = re.compile(r"(?m)^\s*#[^\n]*|\s#\s[^\n]*")


def _code(path: Path) -> str:
    """The file without its comments (a comment may explain what the code never does)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in (".sql", ".jinja"):
        return _SQL_COMMENTS.sub(" ", text)
    return _HASH_COMMENTS.sub(" ", text)


def test_no_shipped_file_disables_a_trigger_or_constraint() -> None:
    files = _shipped_files()
    assert len(files) > 50, files  # the search reached the project
    found = [
        f"{path.relative_to(PROJECT_ROOT)}: {m.group(0)}"
        for path in files
        for m in BYPASSES.finditer(_code(path))
    ]
    assert not found, found


def _log_every_statement(cluster: LocalCluster, on: bool) -> None:
    with cluster.connect("postgres") as conn:
        if on:
            conn.execute("alter system set log_statement = 'all'")
        else:
            conn.execute(sql.SQL("alter system reset log_statement"))
        conn.execute("select pg_reload_conf()")


def test_a_run_sends_nothing_that_disables_a_trigger_or_constraint(
    db_pair: DbPair, tmp_path: Path
) -> None:
    target = db_pair.clusters.target
    start = target.log_file.stat().st_size
    _log_every_statement(target, True)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_", "TARGET_"))}
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--output", "json", "run", "--mode", "full",
             "--entities", "offices,products"],
            cwd=tmp_path,
            env={**env, **db_pair.env(), "DIFFMIG_LOG_DIR": str(tmp_path / "logs")},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )  # fmt: skip
    finally:
        _log_every_statement(target, False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with target.log_file.open("rb") as fh:
        fh.seek(start)
        logged = fh.read().decode("utf-8", errors="replace")
    statements = logged.count("statement: ")
    assert statements > 100, logged[-2000:]  # the run's statements were logged
    assert "insert into" in logged.lower()
    found = [m.group(0) for m in BYPASSES.finditer(logged)]
    assert not found, found
