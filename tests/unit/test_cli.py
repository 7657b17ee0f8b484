from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_help_lists_exit_codes_and_is_fast() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Exit codes" in result.stdout
    assert "sandbox" in result.stdout
    # --help must not import dbt (slow); the only module allowed to is dbt_runner.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from orchestrator.cli import cli; print('dbt' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["up", "down", "status", "reset", "activity"])
def test_every_sandbox_command_has_help(command: str) -> None:
    result = run_cli("sandbox", command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--output" in result.stdout
    assert "--env-file" in result.stdout


def test_usage_error_exit_code() -> None:
    assert run_cli("sandbox", "up", "--scale", "abc").returncode == 2
    assert run_cli("no-such-command").returncode == 2


def test_status_without_sandbox_json(tmp_path: Path) -> None:
    result = run_cli("sandbox", "status", "--output", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"exists": False, "sides": []}


def test_activity_without_sandbox_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("sandbox", "activity", cwd=tmp_path)
    assert result.returncode == 3
    assert "sandbox up" in result.stderr


def test_shared_options_one_transport_and_one_list_split() -> None:
    from orchestrator.cli.options import TRANSPORT_HELP, split_list

    assert split_list(" offices, ,doctors,, ") == ["offices", "doctors"]
    assert split_list("") is None
    assert split_list(",") is None
    assert split_list(None) is None
    for command in ("run", "sync", "detect"):
        shown = " ".join(run_cli(command, "--help").stdout.split())
        assert "--transport [auto|fdw|copy]" in shown, command
        assert " ".join(TRANSPORT_HELP.split()) in shown, command
