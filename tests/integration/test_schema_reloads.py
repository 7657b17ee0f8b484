"""DDL felt by the live app (issue 21): every DDL statement outside pg_temp makes the
destination's HTTP API (PostgREST) reload its schema cache (the sandbox emulates Supabase's
pgrst_ddl_watch / pgrst_drop_watch event triggers). A run counts the reloads it causes (a
connection listening on `pgrst`), records them in its bookkeeping and shows them in its summary
and report; once the private schemas are built, a run causes none, whether legacy rows changed
or not (tables refilled in place: macros/materializations/refill.sql).

One pair for the module, runs in order: a first run, a run with nothing to do, a day of legacy
activity and a delta run, then a mapped table altered by hand and rebuilt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.sandbox import build
from tests.conftest import ClusterPair, DbPair, make_db_pair


@dataclass
class Pair:
    dbs: DbPair
    cwd: Path

    def run(self, *args: str) -> dict[str, Any]:
        out = self.dbs.diffmig(self.cwd, "--output", "json", "run", *args)
        assert out.returncode in (0, 1), out.stderr
        doc: dict[str, Any] = json.loads(out.stdout)
        assert doc["status"] == "succeeded", doc
        return doc

    def recorded(self, run_id: int) -> int | None:
        with self.dbs.target_admin() as conn:
            row = conn.execute(
                "select schema_reloads from diffmig.runs where run_id = %s", (run_id,)
            ).fetchone()
        assert row is not None
        return row[0]


@pytest.fixture(scope="module")
def pair(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    dbs = make_db_pair(clusters)
    yield Pair(dbs, tmp_path_factory.mktemp("schema_reloads"))
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def test_a_first_run_counts_its_reloads_in_bookkeeping_summary_and_report(pair: Pair) -> None:
    doc = pair.run()
    reloads = doc["schema_reloads"]
    print(f"first run: {reloads} schema-cache reloads")
    # It builds the private schemas: views, tables, seeds, comments (one reload per
    # transaction that changed any of them).
    assert reloads is not None
    assert reloads > 0
    assert pair.recorded(doc["run_id"]) == reloads
    markdown = Path(doc["report"]["files"]["markdown"]).read_text(encoding="utf-8")
    assert f"during the run): {reloads:,}" in markdown
    report = json.loads(Path(doc["report"]["files"]["json"]).read_text(encoding="utf-8"))
    assert report["run"]["schema_reloads"] == reloads
    html = Path(doc["report"]["files"]["html"]).read_text(encoding="utf-8")
    assert f"during the run): {reloads:,}" in html


def test_a_run_with_nothing_to_do_causes_no_reload(pair: Pair) -> None:
    doc = pair.run()
    print(f"run with nothing to do: {doc['schema_reloads']} schema-cache reloads")
    assert doc["schema_reloads"] == 0
    assert pair.recorded(doc["run_id"]) == 0


def test_a_delta_run_after_activity_refills_its_tables_without_ddl(pair: Pair) -> None:
    build.simulate_activity(pair.dbs.pair, pair.dbs.legacy_db, days=1, seed=11)
    doc = pair.run()
    built = [e for e in doc["entities"] if e["rows_synced"]]
    print(f"delta run after a day of activity: {doc['schema_reloads']} schema-cache reloads")
    assert built, doc  # the activity changed rows: entities were built, their tests run
    # The int_<entity>_mapped tables and the tests' failure tables are refilled in place
    # (dbt's own materializations: 82 reloads here), marts and snapshots work in pg_temp.
    assert doc["schema_reloads"] == 0


def test_a_table_whose_columns_differ_from_its_query_is_built_again(pair: Pair) -> None:
    with pair.dbs.target_admin() as conn:
        conn.execute("alter table diffmig_int.int_offices_mapped add column by_hand integer")
    doc = pair.run("--mode", "full", "--entities", "offices")
    with pair.dbs.target_admin() as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "select attname from pg_attribute where attrelid = "
                "'diffmig_int.int_offices_mapped'::regclass and attnum > 0 and not attisdropped"
            )
        }
        rows = conn.execute("select count(*) from diffmig_int.int_offices_mapped").fetchone()
    assert "by_hand" not in columns
    assert rows is not None
    assert rows[0] > 0
    # Rebuilt (create, rename, comments, drop of the old one) in one transaction: one reload.
    assert doc["schema_reloads"] == 1
