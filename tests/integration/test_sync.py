"""The sync engine on the sandbox: exact detection against the activity log, the mirror equal to
the source after each sync, both transports alike, and syncs that survive kills and outages."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.catalog import declared_tables
from orchestrator.errors import ConfigError
from orchestrator.sandbox import build
from orchestrator.settings import load_settings
from orchestrator.sync.engine import SyncEngine, TableChanges
from orchestrator.sync.mirror import source_xmin
from tests.conftest import ClusterPair, DbPair, make_db_pair

TABLES = [t.name for t in declared_tables()]


def engine(
    dbs: DbPair, transport: str = "copy", extra_env: dict[str, str] | None = None
) -> SyncEngine:
    settings = load_settings(environ={**dbs.env(), **(extra_env or {})}, cwd=Path("/nonexistent"))
    return SyncEngine(settings, transport=transport)


def source_checksums(dbs: DbPair) -> dict[str, tuple[int, str]]:
    """Per table: row count and md5 over every row's text form, in key order."""
    out = {}
    with dbs.legacy_app() as conn:
        for table in TABLES:
            cols = [
                r[0]
                for r in conn.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                    "and not attisdropped order by attnum",
                    (f"public.{table}",),
                )
            ]
            col_list = ", ".join(f'"{c}"' for c in cols)
            out[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg(row({col_list})::text, '|' order by id), '')) "
                f"from public.{table}"
            ).fetchone()
    return out


def mirror_checksums(dbs: DbPair, tables_cols: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    out = {}
    with dbs.target_tool() as conn:
        for table, cols in tables_cols.items():
            col_list = ", ".join(f'"{c}"' for c in cols)
            out[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg(row({col_list})::text, '|' order by id), '')) "
                f"from diffmig_staging.{table} where _deleted_at is null"
            ).fetchone()
    return out


def source_columns(dbs: DbPair) -> dict[str, list[str]]:
    with dbs.legacy_app() as conn:
        return {
            table: [
                r[0]
                for r in conn.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                    "and not attisdropped order by attnum",
                    (f"public.{table}",),
                )
            ]
            for table in TABLES
        }


def assert_mirror_equals_source(dbs: DbPair) -> None:
    expected = source_checksums(dbs)
    actual = mirror_checksums(dbs, source_columns(dbs))
    for table in TABLES:
        assert actual[table] == expected[table], table


def live_keys(dbs: DbPair) -> dict[str, set[int]]:
    with dbs.legacy_app() as conn:
        return {t: {r[0] for r in conn.execute(f"select id from public.{t}")} for t in TABLES}


def expected_changes(
    dbs: DbPair, batch: int, before: dict[str, set[int]]
) -> dict[str, dict[str, set[int]]]:
    """The truth from the activity log: net change per key between the last sync and now."""
    after = live_keys(dbs)
    with dbs.legacy_app() as conn:
        log = conn.execute(
            "select table_name, legacy_id, kind from sandbox.activity_log where batch = %s "
            "and kind <> 'schema'",
            (batch,),
        ).fetchall()
    touched: dict[str, set[int]] = defaultdict(set)
    for table, key, kind in log:
        if kind in ("update", "update_untouched", "reinsert"):
            touched[table].add(key)
    out: dict[str, dict[str, set[int]]] = {}
    for table in TABLES:
        out[table] = {
            "new": after[table] - before[table],
            "deleted": before[table] - after[table],
            "modified": touched[table] & before[table] & after[table],
        }
    return out


def detected(dbs: DbPair, analysis_id: int) -> dict[str, dict[str, set[int]]]:
    out: dict[str, dict[str, set[int]]] = {
        t: {"new": set(), "modified": set(), "deleted": set()} for t in TABLES
    }
    with dbs.target_tool() as conn:
        for table, key, change in conn.execute(
            "select table_name, legacy_id, change from diffmig.analysis_keys where analysis_id = %s",
            (analysis_id,),
        ):
            out[table][change].add(key)
    return out


def test_first_sync_mirrors_the_source(db_pair: DbPair) -> None:
    report = engine(db_pair).run()
    assert report.transport == "copy"
    assert_mirror_equals_source(db_pair)
    again = engine(db_pair).run()
    assert all(t.new == t.modified == t.deleted == 0 for t in again.tables)


@pytest.mark.parametrize("transport", ["copy", "fdw"])
def test_a_bulk_loads_checksums_are_the_mirrors(db_pair: DbPair, transport: str) -> None:
    """A bulk load writes its buckets' checksums range by range (copy: from the source, fdw:
    from the rows each statement inserted): they must be what the mirror's own rows give,
    table by table, bucket by bucket, with no scan of the mirror at the end."""
    assert engine(db_pair, transport).run().transport == transport
    with db_pair.target_tool() as conn:
        assert conn.execute(
            "select bool_and(buckets_valid) from diffmig.mirror_tables"
        ).fetchone() == (True,)
        for table in TABLES:
            stored = conn.execute(
                "select bucket, live_rows, version_xor, all_rows from diffmig.mirror_buckets "
                "where table_name = %s order by 1",
                (table,),
            ).fetchall()
            computed = conn.execute(
                f"select id::bigint >> 5, count(*) filter (where _deleted_at is null), "
                "bit_xor(hashint8extended((id::bigint << 32) | _source_xmin, 0)) "
                "filter (where _deleted_at is null), count(*) "
                f"from diffmig_staging.{table} group by 1 order by 1"
            ).fetchall()
            assert stored == computed, table
            assert stored, table


def test_the_source_xmin_shortcut_is_xmin(db_pair: DbPair) -> None:
    """source_xmin() (from age(), without printing the xid) gives every row's xmin, also after
    activity has written new row versions."""
    build.simulate_activity(db_pair.pair, db_pair.legacy_db, days=2, seed=41)
    with db_pair.legacy_app() as conn:
        conn.execute("begin isolation level repeatable read read only")
        for table in ("dispatch_notification", "dispatch_file", "auth_user"):
            wrong, rows = conn.execute(
                sql.SQL(
                    "select count(*) filter (where {} <> xmin::text::bigint), count(*) from {}"
                ).format(source_xmin(), sql.Identifier("public", table))
            ).fetchone()
            assert (wrong, rows > 0) == (0, True), table


def test_ranges_worked_together_checkpoint_each(db_pair: DbPair) -> None:
    """With small ranges, a delta sync applies many ranges in one transaction: each still gets
    its checkpoint row, with its own share of the counts."""
    engine(db_pair, extra_env=SMALL_RANGES).run()
    build.simulate_activity(db_pair.pair, db_pair.legacy_db, days=5, seed=42)
    report = engine(db_pair, extra_env=SMALL_RANGES).run()
    assert_mirror_equals_source(db_pair)
    with db_pair.target_tool() as conn:
        per_table = {
            r[0]: r[1:]
            for r in conn.execute(
                "select table_name, count(*), count(distinct range_lo), sum(rows_new), "
                "sum(rows_modified), sum(rows_deleted), bool_and(range_hi = range_lo + 63) "
                "from diffmig.checkpoints where run_id = %s group by 1",
                (report.run_id,),
            )
        }
    worked = [t for t in report.tables if t.ranges_total > 1]
    assert worked
    for t in worked:
        ranges, distinct, new, modified, deleted, aligned = per_table[t.table]
        assert ranges == distinct == t.ranges_total == t.ranges_done, t.table
        assert (new, modified, deleted) == (t.new, t.modified, t.deleted), t.table
        assert aligned, t.table


def test_detection_is_exact_over_several_rounds(db_pair: DbPair) -> None:
    engine(db_pair).run()
    for round_no, seed in enumerate((31, 32, 33), start=1):
        before = live_keys(db_pair)
        summary = build.simulate_activity(db_pair.pair, db_pair.legacy_db, days=5, seed=seed)
        expected = expected_changes(db_pair, summary.batch, before)
        report = engine(db_pair).run(apply=False)
        found = detected(db_pair, report.analysis_id)
        for table in TABLES:
            for change in ("new", "modified", "deleted"):
                assert found[table][change] == expected[table][change], (round_no, table, change)
        counts = {t.table: (t.new, t.modified, t.deleted) for t in report.tables}
        for table in TABLES:
            assert counts[table] == tuple(
                len(expected[table][c]) for c in ("new", "modified", "deleted")
            )
        engine(db_pair).run()
        assert_mirror_equals_source(db_pair)
    with db_pair.legacy_app() as conn:
        kinds = {r[0] for r in conn.execute("select distinct kind from sandbox.activity_log")}
    # The rounds exercised updates without updated_at, same-value writes and re-inserted keys.
    assert {"update_untouched", "update_same", "reinsert"} <= kinds


def assert_detect_is_exact(
    dbs: DbPair, summary: build.ActivitySummary, before: dict[str, set[int]]
) -> list[TableChanges]:
    expected = expected_changes(dbs, summary.batch, before)
    report = engine(dbs).run(apply=False)
    found = detected(dbs, report.analysis_id)
    for table in TABLES:
        for change in ("new", "modified", "deleted"):
            assert found[table][change] == expected[table][change], (table, change)
    return report.tables


def test_written_rows_settle_buckets_and_deletions_go_row_by_row(db_pair: DbPair) -> None:
    """After a sync, the next one takes the rows written since its snapshot: most differing
    buckets are settled by them; a bucket with a deleted row is compared row by row."""
    engine(db_pair).run()
    before = live_keys(db_pair)
    summary = build.simulate_activity(db_pair.pair, db_pair.legacy_db, days=5, seed=51)
    tables = {t.table: t for t in assert_detect_is_exact(db_pair, summary, before)}
    busiest = max(tables.values(), key=lambda t: t.new + t.modified + t.deleted)
    assert busiest.deleted > 0
    assert busiest.buckets_by_written_rows > busiest.buckets_row_by_row > 0


@pytest.mark.parametrize("since", ["future", "zero"])
def test_a_wrong_snapshot_only_costs_time(db_pair: DbPair, since: str) -> None:
    """The snapshot a sync leaves only chooses which rows are sent as written: one too new
    (nothing sent) or too old (every row sent) gives the same exact detection."""
    engine(db_pair).run()
    before = live_keys(db_pair)
    summary = build.simulate_activity(db_pair.pair, db_pair.legacy_db, days=5, seed=52)
    with db_pair.legacy_app() as conn:
        (now,) = conn.execute("select txid_current() & 4294967295").fetchone()
    with db_pair.target_tool() as conn:
        conn.execute(
            "update diffmig.mirror_tables set flag_from_xmin = %s",
            (now + 1000 if since == "future" else 0,),
        )
    tables = assert_detect_is_exact(db_pair, summary, before)
    settled = sum(t.buckets_by_written_rows for t in tables)
    compared = sum(t.buckets_row_by_row for t in tables)
    if since == "future":
        assert settled == 0
        assert compared > 0
    else:
        assert settled > 0


def test_models_are_read_only_when_the_mirror_keeps_a_column_the_source_lost(
    db_pair: DbPair,
) -> None:
    """A sync parses the models (to refuse a source that lost a column they read) only when the
    mirror keeps such a column; otherwise there is nothing stale to read."""
    engine(db_pair).run()
    steady = engine(db_pair)
    steady.run()
    assert steady._lineage is None
    with db_pair.legacy_admin() as conn:
        conn.execute("alter table public.dispatch_state drop column changed_at")
    with pytest.raises(ConfigError, match=r"dispatch_state\.changed_at"):
        engine(db_pair).run()


def plant_negative_keys(dbs: DbPair, up_to: int) -> None:
    """Copies of the order states with keys 1..up_to, under the negated keys."""
    with dbs.legacy_admin() as conn:
        conn.execute(
            'insert into dispatch_state (id, status, "on", changed_at, actor_id, instruction_id) '
            'select -id, status, "on", changed_at, actor_id, instruction_id from dispatch_state '
            "where id <= %s",
            (up_to,),
        )


def test_negative_keys_are_mirrored_and_their_changes_found(db_pair: DbPair) -> None:
    """Keys below zero have buckets of their own (key >> 5): loaded whole, then their new,
    modified and deleted keys found exactly, row by row as well as by written rows."""
    plant_negative_keys(db_pair, 100)
    engine(db_pair).run()
    assert_mirror_equals_source(db_pair)
    for round_no, (lo, hi, gone, added) in enumerate(
        ((-50, -40, (-7, -33), -200), (-30, -20, (-45, -20), -300))
    ):
        with db_pair.legacy_admin() as conn:
            touched = {
                r[0]
                for r in conn.execute(
                    "update dispatch_state set changed_at = changed_at + interval '1 second' "
                    "where id between %s and %s returning id",
                    (lo, hi),
                )
            }
            deleted = {
                r[0]
                for r in conn.execute(
                    "delete from dispatch_state where id = any(%s) returning id", (list(gone),)
                )
            }
            conn.execute(
                'insert into dispatch_state (id, status, "on", changed_at, actor_id, '
                'instruction_id) select %s, status, "on", changed_at, actor_id, instruction_id '
                "from dispatch_state where id = 1",
                (added,),
            )
        report = engine(db_pair).run(apply=False)
        found = detected(db_pair, report.analysis_id)["dispatch_state"]
        modified = touched - deleted
        assert modified, round_no
        assert deleted, round_no
        assert found == {"new": {added}, "modified": modified, "deleted": deleted}, round_no
        engine(db_pair).run()
        assert_mirror_equals_source(db_pair)
    assert all(t.new == t.modified == t.deleted == 0 for t in engine(db_pair).run().tables)


def test_the_upgrade_to_floor_buckets_recomputes_mirrors_with_negative_keys(
    db_pair: DbPair,
) -> None:
    """Bookkeeping version 5 renumbers the buckets of negative keys: a mirror holding one has
    its checksums computed again by its next sync; the others keep theirs."""
    plant_negative_keys(db_pair, 40)
    engine(db_pair).run()
    with db_pair.target_tool() as conn:
        conn.execute("delete from diffmig.schema_version where version = 5")
        ensure_schema(conn)
        stale = {
            r[0]
            for r in conn.execute(
                "select table_name from diffmig.mirror_tables where not buckets_valid"
            )
        }
    assert stale == {"dispatch_state"}
    again = engine(db_pair).run()
    assert all(t.new == t.modified == t.deleted == 0 for t in again.tables)
    with db_pair.target_tool() as conn:
        assert conn.execute(
            "select bool_and(buckets_valid) from diffmig.mirror_tables"
        ).fetchone() == (True,)


def test_same_value_writes_are_not_changes(db_pair: DbPair) -> None:
    engine(db_pair).run()
    with db_pair.legacy_app() as conn:
        conn.execute("update dispatch_file set name = name where id % 7 = 0")
        conn.execute("update auth_user set email = email")
    report = engine(db_pair).run(apply=False)
    assert all(t.new == t.modified == t.deleted == 0 for t in report.tables)
    synced = engine(db_pair).run()
    assert sum(t.rewritten_unchanged for t in synced.tables) > 0
    assert all(t.rewritten_unchanged == 0 for t in engine(db_pair).run(apply=False).tables)


def test_new_source_column_is_mirrored(db_pair: DbPair) -> None:
    engine(db_pair).run()
    with db_pair.legacy_app() as conn:
        conn.execute("alter table dispatch_patient add column nickname text")
        conn.execute("update dispatch_patient set nickname = 'nick' where id % 10 = 1")
        (expected,) = conn.execute(
            "select count(*) from dispatch_patient where id % 10 = 1"
        ).fetchone()
    report = engine(db_pair).run()
    patients = next(t for t in report.tables if t.table == "dispatch_patient")
    assert any("nickname" in c for c in patients.schema_changes)
    assert patients.modified == expected
    assert_mirror_equals_source(db_pair)


def test_both_transports_build_identical_mirrors(clusters: ClusterPair) -> None:
    one, two = make_db_pair(clusters), make_db_pair(clusters)
    try:
        assert engine(one, "fdw").run().transport == "fdw"
        assert engine(two, "copy").run().transport == "copy"
        cols = source_columns(one)
        assert mirror_checksums(one, cols) == mirror_checksums(two, cols)
        for dbs, seed in ((one, 41), (two, 41)):
            build.simulate_activity(dbs.pair, dbs.legacy_db, days=4, seed=seed)
        engine(one, "fdw").run()
        engine(two, "copy").run()
        assert mirror_checksums(one, cols) == mirror_checksums(two, cols)
        assert_mirror_equals_source(one)
    finally:
        for dbs in (one, two):
            build.drop_database(clusters.legacy, dbs.legacy_db)
            build.drop_database(clusters.target, dbs.target_db)


# --- interruptions: a real `diffmig sync` process, killed or cut off ---------------------------

SMALL_RANGES = {"DIFFMIG_RANGE_KEYS": "64"}


def start_sync(dbs: DbPair, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **dbs.env(), **SMALL_RANGES}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--output", "json", "sync", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoints(dbs: DbPair, at_least: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        n = 0
        # The bookkeeping may not exist yet.
        with contextlib.suppress(psycopg.Error), dbs.target_tool() as conn:
            (n,) = conn.execute(
                "select count(*) from diffmig.checkpoints "
                "where run_id = (select max(run_id) from diffmig.runs)"
            ).fetchone()
        if n >= at_least:
            return
        time.sleep(0.02)
    pytest.fail("the sync made no progress")


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.mark.parametrize("kill_after", [1, 40, 400])
def test_killed_sync_resumes_to_the_same_mirror(db_pair: DbPair, kill_after: int) -> None:
    proc = start_sync(db_pair)
    wait_for_checkpoints(db_pair, kill_after, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reaps it and closes its pipes
    code, out, err = finish(start_sync(db_pair, "--resume"))
    assert code == 0, err
    assert '"resumed_from"' in out
    assert_mirror_equals_source(db_pair)
    with db_pair.target_tool() as conn:
        resumed = conn.execute(
            "select count(*) from diffmig.checkpoints c join diffmig.runs r using (run_id) "
            "where r.resumed_from is not null"
        ).fetchone()[0]
        done_before = conn.execute(
            "select count(*) from diffmig.checkpoints c join diffmig.runs r using (run_id) "
            "where r.resumed_from is null"
        ).fetchone()[0]
    assert done_before >= kill_after
    assert resumed > 0


def test_source_server_stopped_mid_sync(db_pair: DbPair, clusters: ClusterPair) -> None:
    proc = start_sync(db_pair)
    wait_for_checkpoints(db_pair, 20, proc)
    clusters.legacy.stop("fast")
    time.sleep(3)
    clusters.legacy.start()
    code, out, err = finish(proc)
    assert code == 0, err
    assert "retried" in out or "attempt" in out
    assert_mirror_equals_source(db_pair)
    with db_pair.target_tool() as conn:
        (retries,) = conn.execute("select count(*) from diffmig.retries").fetchone()
    assert retries >= 1


def test_backend_terminated_mid_copy(db_pair: DbPair) -> None:
    proc = start_sync(db_pair)
    wait_for_checkpoints(db_pair, 20, proc)
    with db_pair.legacy_admin() as conn:
        (killed,) = conn.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where application_name = 'diffmig-sync'"
        ).fetchone()
    assert killed >= 1
    code, _, err = finish(proc)
    assert code == 0, err
    assert_mirror_equals_source(db_pair)


def test_new_keys_past_a_range_boundary_sync_once(db_pair: DbPair) -> None:
    """Keys appended beyond the mirror's last range are loaded whole once, then compare equal
    (their bucket checksums are recorded), however many syncs follow."""
    engine(db_pair).run()
    with db_pair.legacy_app() as conn:
        conn.execute(
            'insert into dispatch_state (id, status, "on", changed_at, actor_id, instruction_id) '
            'select 200000 + id, status, "on", changed_at, actor_id, instruction_id '
            "from dispatch_state"
        )
        (added,) = conn.execute("select count(*) from dispatch_state where id > 200000").fetchone()
    first = engine(db_pair).run()
    states = next(t for t in first.tables if t.table == "dispatch_state")
    assert states.new == added
    for _ in range(2):
        again = engine(db_pair).run()
        assert all(t.new == t.modified == t.deleted == 0 for t in again.tables)
    assert_mirror_equals_source(db_pair)


def test_auto_uses_copy_on_a_new_project_and_says_why(db_pair: DbPair) -> None:
    """A new Supabase project has no postgres_fdw: `auto` does not create it, and says in one
    line why it copies."""
    report = engine(db_pair, "auto").run()
    assert report.transport == "copy"
    assert "\n" not in report.transport_reason
    assert "postgres_fdw is not installed" in report.transport_reason
    assert "--transport fdw" in report.transport_reason
    with db_pair.target_tool() as conn:
        assert (
            conn.execute("select 1 from pg_extension where extname = 'postgres_fdw'").fetchone()
            is None
        )


def test_fdw_creates_postgres_fdw_and_drops_its_user_mapping_after_use(db_pair: DbPair) -> None:
    report = engine(db_pair, "fdw").run()
    assert report.transport == "fdw"
    with db_pair.target_tool() as conn:
        owner = conn.execute(
            "select pg_get_userbyid(fdwowner) from pg_foreign_data_wrapper "
            "where fdwname = 'postgres_fdw'"
        ).fetchone()
        assert owner == ("postgres",)
        # The mapping holds the source password: gone once the sync is done with it.
        assert conn.execute(
            "select count(*) from pg_user_mappings where srvname = 'diffmig_source'"
        ).fetchone() == (0,)
    # The next sync makes it again.
    assert engine(db_pair, "fdw").run().transport == "fdw"
    assert_mirror_equals_source(db_pair)


def test_auto_uses_fdw_where_it_is_installed(db_pair: DbPair) -> None:
    """The fdw variant of the destination: a project whose postgres_fdw is already there."""
    build.install_postgres_fdw(
        db_pair.clusters.target, db_pair.target_db, db_pair.pair.target_tool_password
    )
    report = engine(db_pair, "auto").run()
    assert report.transport == "fdw"
    assert report.transport_reason == "the destination can reach the source through postgres_fdw"


def test_a_failing_user_mapping_does_not_show_the_password(db_pair: DbPair) -> None:
    """The statement built inside the DO block is not the error's context: a failure names the
    cause, never the secret (the server log and the client see the same message)."""
    from orchestrator.sync.transports import create_user_mapping

    secret = "MappingSecret-" + db_pair.target_db
    with db_pair.target_tool() as conn, pytest.raises(psycopg.Error) as failed:
        create_user_mapping(conn, "no_such_server", "mdw_admin", secret)
    assert failed.value.sqlstate == "42704"  # undefined_object: the server does not exist
    assert "no_such_server" in str(failed.value)
    diag = failed.value.diag
    for text in (str(failed.value), diag.context or "", diag.message_detail or ""):
        assert secret not in text, text
    with db_pair.target_admin() as conn:
        (seen,) = conn.execute(
            "select count(*) from extensions.pg_stat_statements where query like %s",
            (f"%{secret}%",),
        ).fetchone()
    assert seen == 0
