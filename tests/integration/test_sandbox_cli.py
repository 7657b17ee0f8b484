"""`diffmig sandbox ...` end to end, in a scratch project folder, as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from orchestrator.settings import load_settings


def diffmig(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_sandbox_lifecycle(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    try:
        up = diffmig(
            project, "sandbox", "up", "--scale", "0.003", "--seed", "3", "--activity-days", "3"
        )
        assert up.returncode == 0, up.stderr
        env_file = project / ".sandbox" / "sandbox.env"
        assert env_file.is_file()
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        passwords = [
            line.split("=", 1)[1]
            for line in env_file.read_text().splitlines()
            if "PASSWORD=" in line
        ]
        assert len(passwords) == 2
        for secret in passwords:
            assert secret not in up.stdout
            assert secret not in up.stderr
        assert "SOURCE_DB_PASSWORD=***" in up.stderr

        # The settings file works for both sides, with the roles diffmig uses.
        settings = load_settings(env_file, environ={}, cwd=project)
        with psycopg.connect(settings.source.conninfo()) as conn:
            assert conn.execute("select count(*) from dispatch_patient").fetchone()[0] > 0
        with psycopg.connect(settings.target.conninfo()) as conn:
            assert (
                conn.execute(
                    "select rolsuper from pg_roles where rolname = current_user"
                ).fetchone()[0]
                is False
            )
            assert conn.execute("select count(*) from offices").fetchone()[0] > 0

        status = diffmig(project, "sandbox", "status", "--output", "json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["scale"] == 0.003
        assert doc["seed"] == 3
        sides = {s["side"]: s for s in doc["sides"]}
        assert sides["legacy"]["running"]
        assert sides["supabase"]["running"]
        legacy_tables = {t["table"] for t in sides["legacy"]["tables"]}
        assert {"dispatch_notification", "auth_user", "dispatch_instruction"} <= legacy_tables
        supabase_tables = {t["table"] for t in sides["supabase"]["tables"]}
        assert {"offices", "orders", "migration_mappings"} <= supabase_tables

        activity = diffmig(project, "sandbox", "activity", "--days", "2", "--output", "json")
        assert activity.returncode == 0, activity.stderr
        assert json.loads(activity.stdout)["batch"] == 2

        conflict = diffmig(project, "sandbox", "up", "--scale", "0.5")
        assert conflict.returncode == 3
        assert "sandbox reset" in conflict.stderr

        down = diffmig(project, "sandbox", "down")
        assert down.returncode == 0, down.stderr
        again = diffmig(project, "sandbox", "up", "--output", "json")  # reuses, restarts
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["reused"] is True
    finally:
        diffmig(project, "sandbox", "reset", "--destroy-only")
    assert not (project / ".sandbox" / "state.json").exists()
