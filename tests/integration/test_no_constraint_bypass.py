"""diffmig never switches off what guards the app's data (world.md section 4): Supabase lets
`postgres` set session_replication_role (which silences triggers and foreign keys) and it owns
the app tables (so it could disable their triggers), but the app's constraints and triggers are
part of the proof. Checked twice: here, in every SQL and Python file the tool and its dbt project
ship; and in what the destination server logged (`log_statement = all`) during real runs, a
successful and a failing one (tests/reliability/test_secrets_and_access.py, which logs every
statement anyway).
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.catalog import PROJECT_ROOT

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
