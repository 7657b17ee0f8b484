"""`diffmig doctor` on the sandbox pair, driven through the real CLI: all checks pass on a healthy
pair; a transaction-mode pooler port, a wrong password, readable private schemas and a low
statement_timeout are caught with their fixes; and the generic pooler detection on fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.doctor import (
    FAIL,
    OK,
    WARN,
    check_connections,
    check_pooling,
    pooler_by_address,
    probe_session_state,
)
from orchestrator.settings import load_settings
from tests.conftest import DbPair

_OWN_PREFIXES = ("SOURCE_", "TARGET_", "DIFFMIG_", "SUPABASE_")


def diffmig(
    dbs: DbPair, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, configured for `dbs` through the environment only."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    environ.update(dbs.env())
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def findings(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    doc = json.loads(proc.stdout)
    assert set(doc) == {"findings", "ok"}
    return {f["check"]: f for f in doc["findings"]}


def secrets_of(dbs: DbPair) -> list[str]:
    return [dbs.pair.legacy_app_password, dbs.pair.target_tool_password]


def test_doctor_all_ok_on_the_sandbox_pair(db_pair: DbPair, tmp_path: Path) -> None:
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    found = findings(proc)
    assert json.loads(proc.stdout)["ok"] is True
    assert not [f for f in found.values() if f["status"] == FAIL]
    for check in (
        "settings",
        "source: reachable",
        "source: tls",
        "source: server version",
        "source: session mode",
        "source: statement_timeout",
        "source: read legacy tables",
        "source: data to move",
        "target: reachable",
        "target: tls",
        "target: session mode",
        "target: role",
        "target: create schemas",
        "target: postgres_fdw",
        "target: postgres_fdw reaches source",
        "target: uuid_generate_v5",
        "target: write app tables",
        "target: private schemas",
        "target: connections",
    ):
        assert found[check]["status"] == OK, found[check]
    assert (
        "a run needs 4 connections to the destination (diffmig 2, dbt 1 thread + 1)"
        in (found["target: connections"]["detail"])
    )
    # Local: TLS is not required (and the sandbox serves none).
    assert "local, TLS not required" in found["target: tls"]["detail"]
    assert " ms" in found["source: reachable"]["detail"]
    assert "not a superuser" in found["target: role"]["detail"]
    # A new project has no postgres_fdw; the role may create it, and doctor leaves none behind.
    fdw = found["target: postgres_fdw"]["detail"]
    assert "not installed (a new Supabase project has none); postgres may create it" in fdw
    assert "--transport auto uses copy" in fdw
    with db_pair.target_tool() as conn:
        assert conn.execute(
            "select count(*) from pg_extension where extname = 'postgres_fdw'"
        ).fetchone() == (0,)
        assert conn.execute("select count(*) from pg_user_mappings").fetchone() == (0,)
    # Free disk cannot be read by Supabase's postgres role: a warning with the size to provision.
    disk = found["target: free disk"]
    assert disk["status"] == WARN
    assert "non-superuser" in disk["detail"]
    assert "make sure at least" in disk["fix"]

    human = diffmig(db_pair, tmp_path, "doctor")
    assert human.returncode == 0, human.stderr
    assert "target: postgres_fdw reaches source" in human.stdout
    for secret in secrets_of(db_pair):
        assert secret not in proc.stdout + proc.stderr + human.stdout + human.stderr


def test_doctor_refuses_the_transaction_pooler_port_before_connecting(
    db_pair: DbPair, tmp_path: Path
) -> None:
    pooler = {
        "TARGET_DB_HOST": "aws-0-eu-central-1.pooler.supabase.com",
        "TARGET_DB_PORT": "6543",
        "TARGET_DB_USER": "postgres.abcdefghijklmnop",
        "TARGET_DB_NAME": "postgres",
    }
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json", env=pooler)
    assert proc.returncode == 3, proc.stderr
    found = findings(proc)
    assert json.loads(proc.stdout)["ok"] is False
    assert found["target: pooler"]["status"] == FAIL
    assert "transaction mode" in found["target: pooler"]["detail"]
    assert "use port 5432 (session mode)" in found["target: pooler"]["fix"]
    # No connection was attempted to the pooler; the source was still checked.
    assert "not attempted" in found["target: reachable"]["detail"]
    assert "target: tls" not in found
    assert found["source: reachable"]["status"] == OK
    assert "target: pooler" in proc.stderr  # the error line names the failed check


def test_pooler_address_rules() -> None:
    base = {
        "SOURCE_DB_HOST": "127.0.0.1",
        "SOURCE_DB_USER": "u",
        "SOURCE_DB_NAME": "d",
        "TARGET_DB_USER": "postgres.ref",
        "TARGET_DB_NAME": "postgres",
    }
    host = "aws-0-eu-central-1.pooler.supabase.com"
    transaction = load_settings(
        environ={**base, "TARGET_DB_HOST": host, "TARGET_DB_PORT": "6543"},
        cwd=Path("/nonexistent"),
    )
    finding = pooler_by_address(transaction.target)
    assert finding is not None
    assert finding.status == FAIL
    assert "use port 5432 (session mode)" in finding.fix
    session = load_settings(
        environ={**base, "TARGET_DB_HOST": host, "TARGET_DB_PORT": "5432"},
        cwd=Path("/nonexistent"),
    )
    ok = pooler_by_address(session.target)
    assert ok is not None
    assert ok.status == OK
    direct = load_settings(
        environ={**base, "TARGET_DB_HOST": "db.abcdefghijklmnop.supabase.co"},
        cwd=Path("/nonexistent"),
    )
    assert pooler_by_address(direct.target) is None


class FakeServer:
    """Answers the probe's two statements like PostgreSQL behind a pooler: each statement is its
    own transaction, handed to the next of `backends` server sessions; `reset` clears a session
    after every transaction (pgbouncer's server_reset_query_always)."""

    def __init__(self, backends: int, *, reset: bool) -> None:
        self.sessions: list[dict[str, str]] = [{} for _ in range(backends)]
        self.reset = reset
        self.calls = 0

    def __call__(self, query: str, params: Sequence[Any]) -> Sequence[Any] | None:
        index = self.calls % len(self.sessions)
        self.calls += 1
        session = self.sessions[index]
        if query.startswith("select set_config"):
            session["diffmig.doctor_probe"] = str(params[0])
            row: tuple[Any, ...] = (params[0],)
        else:
            row = (session.get("diffmig.doctor_probe"), 1000 + index)
        if self.reset:
            session.clear()
        return row


def test_generic_transaction_pooling_detection() -> None:
    plain = probe_session_state(FakeServer(1, reset=False))
    assert plain.state_kept
    assert plain.backends == 1
    assert not plain.transaction_pooling

    pooled = probe_session_state(FakeServer(3, reset=False))
    assert pooled.transaction_pooling
    assert pooled.backends > 1

    single_reset = probe_session_state(FakeServer(1, reset=True))
    assert single_reset.transaction_pooling
    assert single_reset.lost == single_reset.rounds


def test_generic_detection_on_real_postgresql(db_pair: DbPair) -> None:
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    from orchestrator import db

    with db.connection(settings.target) as conn:
        finding = check_pooling(conn, settings.target)
    assert finding.status == OK, finding
    assert "persists" in finding.detail


def test_doctor_wrong_target_password(db_pair: DbPair, tmp_path: Path) -> None:
    wrong = "WrongPassword-7f3a9c"
    proc = diffmig(
        db_pair, tmp_path, "doctor", "--output", "json", env={"TARGET_DB_PASSWORD": wrong}
    )
    assert proc.returncode == 3, proc.stderr
    found = findings(proc)
    reach = found["target: reachable"]
    assert reach["status"] == FAIL
    assert "password authentication failed" in reach["detail"]
    assert "TARGET_DB" in reach["fix"]
    assert found["source: reachable"]["status"] == OK
    assert "target: reachable" in proc.stderr
    human = diffmig(db_pair, tmp_path, "doctor", env={"TARGET_DB_PASSWORD": wrong})
    assert human.returncode == 3
    assert "password authentication failed" in human.stdout
    everything = proc.stdout + proc.stderr + human.stdout + human.stderr
    for secret in [wrong, *secrets_of(db_pair)]:
        assert secret not in everything


def test_doctor_flags_private_schemas_open_to_the_api_roles(
    db_pair: DbPair, tmp_path: Path
) -> None:
    with db_pair.target_tool() as conn:
        ensure_schema(conn)
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert findings(proc)["target: private schemas"]["status"] == OK

    with db_pair.target_admin() as conn:
        conn.execute("grant usage on schema diffmig_staging to anon")
        conn.execute("grant select on diffmig.runs to authenticated")
        conn.commit()
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json")
    assert proc.returncode == 3
    private = findings(proc)["target: private schemas"]
    assert private["status"] == FAIL
    assert "anon has usage on schema diffmig_staging" in private["detail"]
    assert "authenticated has privileges on 1 tables in diffmig" in private["detail"]
    assert private["fix"].startswith("revoke all on schema")


def test_doctor_says_which_statement_timeout_applies(db_pair: DbPair, tmp_path: Path) -> None:
    with db_pair.target_admin() as conn:
        # Per database, so that other tests' clones are not affected.
        conn.execute(
            f"alter role postgres in database \"{db_pair.target_db}\" set statement_timeout = '30s'"
        )
        conn.commit()
    with db_pair.legacy_admin() as conn:
        conn.execute(
            f"alter role mdw_admin in database \"{db_pair.legacy_db}\" set statement_timeout = '30s'"
        )
        conn.commit()
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    # The destination's limit does not apply: diffmig lifts it on its own and dbt's sessions.
    target = findings(proc)["target: statement_timeout"]
    assert target["status"] == OK, target
    assert "none on diffmig's and dbt's sessions (DIFFMIG_STATEMENT_TIMEOUT=0)" in target["detail"]
    assert "the server gives postgres 30 s" in target["detail"]
    # The source's is the legacy server operator's: a warning with the fix, naming the role.
    source = findings(proc)["source: statement_timeout"]
    assert source["status"] == WARN
    assert "30 s" in source["detail"]
    assert source["fix"].startswith('alter role "mdw_admin" set statement_timeout')

    proc = diffmig(
        db_pair, tmp_path, "doctor", "--output", "json", env={"DIFFMIG_STATEMENT_TIMEOUT": "30s"}
    )
    assert proc.returncode == 0, proc.stderr
    target = findings(proc)["target: statement_timeout"]
    assert target["status"] == WARN
    assert "30 s on diffmig's and dbt's sessions" in target["detail"]
    assert target["fix"].startswith("raise DIFFMIG_STATEMENT_TIMEOUT")


def test_doctor_reports_unusable_settings(db_pair: DbPair, tmp_path: Path) -> None:
    proc = diffmig(
        db_pair,
        tmp_path,
        "doctor",
        "--output",
        "json",
        env={"TARGET_DB_HOST": "db.abcdefghijklmnop.supabase.co", "TARGET_DB_SSLMODE": "disable"},
    )
    assert proc.returncode == 3
    found = findings(proc)
    assert found["settings"]["status"] == FAIL
    assert "unencrypted" in found["settings"]["detail"]
    assert "DIFFMIG_ALLOW_INSECURE" in found["settings"]["fix"]


def test_doctor_counts_the_connections_a_run_needs(
    db_pair: DbPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db_pair.target_admin() as conn:
        conn.execute(f'alter database "{db_pair.target_db}" connection limit 3')
    proc = diffmig(db_pair, tmp_path, "doctor", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    found = findings(proc)["target: connections"]
    assert found["status"] == FAIL
    assert "a run needs 4 connections" in found["detail"]
    assert "3 free under the database's connection limit 3" in found["detail"]
    assert "raise the limit" in found["fix"]

    # Through Supabase's session pooler the pool size caps the clients (15 on the smallest
    # plan; DIFFMIG_POOL_SIZE for others). The login name is postgres.<ref>; the role postgres.
    with db_pair.target_admin() as conn:
        conn.execute(f'alter database "{db_pair.target_db}" connection limit -1')
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    pooled = replace(
        settings,
        target=replace(
            settings.target,
            host="aws-0-eu-central-1.pooler.supabase.com",
            port=5432,
            user="postgres.abc",
        ),
    )
    with db_pair.target_tool() as conn:
        ok = check_connections(conn, pooled, 1)
        # DIFFMIG_POOL_SIZE=3, as the settings read it
        tight = check_connections(conn, replace(pooled, pool_size=3), 1)
    assert ok.status == OK, ok
    assert "free under the session pooler's pool size 15" in ok.detail
    assert tight.status == FAIL, tight
    assert "the session pooler's pool size 3 (DIFFMIG_POOL_SIZE)" in tight.detail
    assert "DIFFMIG_POOL_SIZE" in tight.fix
