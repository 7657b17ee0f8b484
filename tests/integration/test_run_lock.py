"""One `diffmig run` at a time per destination; a run killed before recording its outcome is
marked interrupted by the next one (and stays resumable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.bookkeeping import runs
from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.errors import RunFailed
from orchestrator.runner import MigrationRun
from orchestrator.settings import load_settings
from tests.conftest import DbPair


def test_a_second_run_is_refused_while_one_holds_the_destination(db_pair: DbPair) -> None:
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    with db_pair.target_tool() as holder:
        holder.autocommit = True
        assert runs.hold_run_lock(holder, "run")
        with pytest.raises(RunFailed) as caught:
            MigrationRun(settings, entities=["offices"]).execute()
        assert "another `diffmig run` is working on this destination" in caught.value.message
        assert "diffmig pause" in (caught.value.hint or "")


def test_runs_left_running_are_marked_interrupted_and_stay_resumable(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        conn.autocommit = True
        ensure_schema(conn)
        dead = runs.start_run(conn, "run", mode="delta").run_id
        assert runs.hold_run_lock(conn, "run")
        assert runs.mark_dead_runs(conn, "run") == [dead]
        status, error = conn.execute(
            "select status, error from diffmig.runs where run_id = %s", (dead,)
        ).fetchone()
        assert status == "interrupted"
        assert "killed" in error
        assert runs.unfinished_run(conn, "run") == dead
        assert runs.mark_dead_runs(conn, "run") == []


def test_a_subset_builds_the_shared_views_an_entity_left_out_would_have_built(
    db_pair: DbPair,
) -> None:
    """`run --entities orders` on a destination diffmig never built: the staging views orders
    reads that products' build would have made (stg_legacy__courses, ...) are built with it,
    and no other entity's table is written."""
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    with db_pair.target_tool() as conn:
        before = conn.execute("select count(*) from public.products").fetchone()
    outcome = MigrationRun(settings, entities=["orders"]).execute()
    assert [(e.entity, e.status) for e in outcome.entities] == [("orders", "done")], outcome
    with db_pair.target_tool() as conn:
        assert conn.execute("select to_regclass('diffmig_stg.stg_legacy__courses')").fetchone()[0]
        assert conn.execute("select count(*) from public.products").fetchone() == before
