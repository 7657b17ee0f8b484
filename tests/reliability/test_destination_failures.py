"""Scenario 3 (issues 7 and 21): the destination fails in the middle of an entity's build.

A run (full; offices, then products) meets four failures in turn, installed by the destination's
superuser as an operator or the server would cause them:
  - SQLSTATE 53100 (disk full), raised by a trigger on the app table after a few rows of the
    upsert were written;
  - the destination server restarted while the upsert runs (the upsert held on a lock until the
    restart, so the restart lands in the build, not before or after it);
  - SQLSTATE 25006 (read-only mode, what hosted Supabase does to a project whose disk is full):
    `alter database ... set default_transaction_read_only = on` before the resume;
  - SQLSTATE 57014 (statement timeout): `alter role postgres set statement_timeout` low (as hosted
    Supabase's 2-minute default is for every role that sets none), a trigger that makes products'
    upsert statement sleep past it, and DIFFMIG_STATEMENT_TIMEOUT lowered below what the
    statement needs.
Each time: the run stops with exit code 4 (README: run failed, resumable) and one message that
names the cause and a hint that says what to do (no traceback); products' app table is exactly as
before the run (no entity half-applied; fingerprints of every column); then, once the cause is
removed, `diffmig run --resume` carries on. The last resume completes the run with the role's low
limit and the slow statement still in place: diffmig lifts the limit on its own and dbt's
sessions (DIFFMIG_STATEMENT_TIMEOUT unset: none).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tests.conftest import ClusterPair
from tests.reliability.conftest import RecordFigures
from tests.reliability.harness import (
    ACTIVE_TARGET,
    Fingerprint,
    Rig,
    fingerprint,
    kill,
    last_run,
    rig_for,
    wait_until,
)

ENTITIES = "offices,products"

DISK_FULL = """
create schema if not exists rig;
create sequence if not exists rig.rows_written;
create or replace function rig.disk_full() returns trigger language plpgsql security definer
set search_path = pg_catalog as $$
begin
    if nextval('rig.rows_written') > 3 then
        raise exception 'could not extend file "base/16384/2619": No space left on device'
            using errcode = 'disk_full', hint = 'Check free disk space.';
    end if;
    return new;
end $$;
grant usage on schema rig to postgres;
create trigger rig_disk_full before insert or update on public.products
for each row execute function rig.disk_full();
"""

SLOW = """
create schema if not exists rig;
create or replace function rig.slow() returns trigger language plpgsql security definer
set search_path = pg_catalog as $$
begin
    perform pg_sleep(6);
    return null;
end $$;
grant usage on schema rig to postgres;
create trigger rig_slow before insert on public.products
for each statement execute function rig.slow();
alter role postgres set statement_timeout = '3s';
"""

REMOVE_SLOW = """
drop trigger if exists rig_slow on public.products;
alter role postgres reset statement_timeout;
"""

READ_ONLY = "alter database {db} set default_transaction_read_only = on"
WRITABLE = "alter database {db} reset default_transaction_read_only"


def _admin(rig: Rig, statements: str) -> None:
    with rig.target_admin() as conn:
        conn.execute(statements)


def _error_and_hint(err: str) -> tuple[str, str]:
    """The error message and its hint as the CLI printed them (JSON records, or plain lines
    `HH:MM:SS ERROR ...` / `HH:MM:SS HINT ...`)."""
    for line in err.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("level") == "error":
                return str(record["message"]).strip(), str(record.get("hint") or "").strip()
    found = re.search(r"^\S+ ERROR (.*?)^\S+ HINT (.*)\Z", err, re.S | re.M)
    assert found, err[-3000:]
    return found.group(1).strip(), found.group(2).strip()


def _failed_run(
    rig: Rig, proc: Any, table: str, before: Fingerprint, cause: list[str], hint: list[str]
) -> dict[str, Any]:
    """The run stopped with exit 4, a message naming the cause and a hint, and `table` as it
    was before the run."""
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 4, (proc.returncode, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    message, advice = _error_and_hint(err)
    for words in cause:
        assert re.search(words, message, re.I), (words, message)
    for words in hint:
        assert re.search(words, advice, re.I), (words, advice)
    assert "diffmig run --resume" in advice, advice
    assert fingerprint(rig, [table]).tables[table] == before.tables[table], (
        f"{table} was left half-applied"
    )
    run = last_run(rig)
    assert run["status"] == "failed", run
    return {
        "run_id": run["run_id"],
        "exit_code": proc.returncode,
        "message": " ".join(message.split())[:400],
        "hint": advice,
    }


def test_destination_failures_stop_cleanly_and_resume(
    clusters: ClusterPair,
    reliability_scale: float,
    tmp_path: Path,
    record_figures: RecordFigures,
) -> None:
    figures: dict[str, Any] = {"scale": reliability_scale, "entities": ENTITIES.split(",")}
    with rig_for(clusters, tmp_path, reliability_scale) as rig:
        before = fingerprint(rig)
        started = time.monotonic()

        # 53100 in the middle of products' upsert.
        _admin(rig, DISK_FULL)
        proc = rig.start("--output", "json", "run", "--mode", "full", "--entities", ENTITIES)
        figures["disk_full"] = _failed_run(
            rig,
            proc,
            "products",
            before,
            cause=["products", "out of disk space", "no space left on device"],
            hint=[r"free (some )?(disk )?space|grow the disk"],
        )
        with rig.target_admin() as conn:
            (written,) = conn.execute("select last_value from rig.rows_written").fetchone() or (0,)
        assert written > 3, "the trigger did not fire in the middle of the upsert"
        _admin(rig, "drop trigger rig_disk_full on public.products")

        # The destination restarted during products' upsert.
        lock = rig.target_admin(autocommit=False)
        lock.execute("set lock_timeout = '60s'")
        lock.execute("lock table public.products in exclusive mode")
        proc = rig.start("--output", "json", "run", "--mode", "full", "--entities", ENTITIES,
                         "--resume")  # fmt: skip
        try:
            wait_until("products' upsert", lambda: _upsert_waiting(rig, "products"), proc)
            restart_started = time.monotonic()
            clusters.target.restart()
            restart_s = time.monotonic() - restart_started
            figures["restart"] = _failed_run(
                rig,
                proc,
                "products",
                before,
                cause=["products", "connection to the destination was lost"],
                hint=["accepts connections again"],
            )
        finally:
            if proc.poll() is None:
                kill(proc)
            lock.close()
        figures["restart"]["restart_s"] = round(restart_s, 1)

        # 25006: the project went read-only (its disk filled) before the resume.
        _admin(rig, READ_ONLY.format(db=ACTIVE_TARGET))
        try:
            proc = rig.start("--output", "json", "run", "--mode", "full", "--entities",
                             ENTITIES, "--resume")  # fmt: skip
            figures["read_only"] = _failed_start(
                rig,
                proc,
                "products",
                before,
                cause=["read-only mode", "read-only transaction"],
                hint=["add disk space", "default_transaction_read_only = off"],
            )
        finally:
            # From another database: a session of the read-only one could not alter it.
            with rig.target.connect("postgres") as conn:
                conn.execute(WRITABLE.format(db=ACTIVE_TARGET))

        # 57014 in products' upsert: the role's low limit is lifted by diffmig, but
        # DIFFMIG_STATEMENT_TIMEOUT lowered below what the statement needs stops it.
        _admin(rig, SLOW)
        try:
            rig.extra_env["DIFFMIG_STATEMENT_TIMEOUT"] = "3s"
            proc = rig.start("--output", "json", "run", "--mode", "full", "--entities",
                             ENTITIES, "--resume")  # fmt: skip
            figures["statement_timeout"] = _failed_run(
                rig,
                proc,
                "products",
                before,
                cause=[
                    "products",
                    "statement_timeout",
                    "canceling statement due to statement timeout",
                ],
                hint=["raise DIFFMIG_STATEMENT_TIMEOUT"],
            )
            del rig.extra_env["DIFFMIG_STATEMENT_TIMEOUT"]
            with rig.target_tool() as conn:
                # What a session of the role gets at login: the limit diffmig lifts.
                assert conn.execute("show statement_timeout").fetchone() == ("3s",)

            # The statement takes longer than the role's limit and passes: diffmig lifted it.
            done, seconds = rig.run_to_end("--mode", "full", "--entities", ENTITIES, "--resume")
        finally:
            _admin(rig, REMOVE_SLOW)
        assert '"status": "succeeded"' in done.stdout
        assert fingerprint(rig, ["products"]).tables["products"] != before.tables["products"]
        figures["lifted_timeout_resume_s"] = round(seconds, 1)
        figures["last_resume_s"] = round(seconds, 1)
        figures["total_s"] = round(time.monotonic() - started, 1)
    record_figures("destination_failures", figures)


def _failed_start(
    rig: Rig, proc: Any, table: str, before: Fingerprint, cause: list[str], hint: list[str]
) -> dict[str, Any]:
    """The run could not start (its bookkeeping cannot be written either): exit 4, a message
    naming the cause (any of `cause`) and a hint with every one of `hint`, `table` as before."""
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 4, (proc.returncode, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    message, advice = _error_and_hint(err)
    assert any(re.search(words, message, re.I) for words in cause), (cause, message)
    for words in hint:
        assert re.search(words, advice, re.I), (words, advice)
    assert "diffmig run --resume" in advice, advice
    assert fingerprint(rig, [table]).tables[table] == before.tables[table]
    return {
        "exit_code": proc.returncode,
        "message": " ".join(message.split())[:400],
        "hint": advice,
    }


def _upsert_waiting(rig: Rig, table: str) -> bool:
    with rig.target.connect("postgres") as conn:
        row = conn.execute(
            "select 1 from pg_stat_activity where datname = %s and application_name = 'dbt' "
            "and wait_event_type = 'Lock' and position(%s in query) > 0",
            (ACTIVE_TARGET, f'"{table}"'),
        ).fetchone()
    return row is not None
