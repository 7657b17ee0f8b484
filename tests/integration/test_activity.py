"""The simulated legacy activity and its log: the truth the tool's detection is compared with."""

from __future__ import annotations

from orchestrator.sandbox import build
from tests.conftest import LEGACY_BASE_TEMPLATE, ClusterPair, DbPair, make_db_pair

KINDS = {"insert", "update", "update_untouched", "update_same", "delete", "reinsert", "schema"}


def test_the_log_has_every_kind(db_pair: DbPair) -> None:
    with db_pair.legacy_app() as conn:
        kinds = {r[0] for r in conn.execute("select distinct kind from sandbox.activity_log")}
        tables = {
            r[0] for r in conn.execute("select distinct table_name from sandbox.activity_log")
        }
    assert kinds == KINDS
    for table in (
        "auth_user",
        "dispatch_patient",
        "dispatch_instruction",
        "dispatch_file",
        "dispatch_record",
        "dispatch_notification",
        "dispatch_jaw",
        "dispatch_office",
    ):
        assert table in tables, table


def test_the_log_matches_the_data(db_pair: DbPair) -> None:
    """Inserted rows exist, deleted rows do not (unless re-inserted later), in every table."""
    with db_pair.legacy_app() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select distinct table_name from sandbox.activity_log where kind <> 'schema'"
            )
        ]
        for table in tables:
            (missing_inserts,) = conn.execute(
                f"select count(*) from sandbox.activity_log l where l.table_name = %s "  # noqa: S608
                f"and l.kind in ('insert', 'reinsert') and not exists "
                f"(select 1 from {table} t where t.id = l.legacy_id) "
                f"and not exists (select 1 from sandbox.activity_log d where d.table_name = "
                f"l.table_name and d.legacy_id = l.legacy_id and d.kind = 'delete' and d.id > l.id)",
                (table,),
            ).fetchone()
            (present_deletes,) = conn.execute(
                f"select count(*) from sandbox.activity_log l where l.table_name = %s "  # noqa: S608
                f"and l.kind = 'delete' and exists (select 1 from {table} t where t.id = l.legacy_id) "
                f"and not exists (select 1 from sandbox.activity_log r where r.table_name = "
                f"l.table_name and r.legacy_id = l.legacy_id and r.kind in ('insert', 'reinsert') "
                f"and r.id > l.id)",
                (table,),
            ).fetchone()
            assert missing_inserts == 0, table
            assert present_deletes == 0, table


def test_untouched_updates_keep_updated_at(clusters: ClusterPair) -> None:
    before = make_db_pair(clusters, LEGACY_BASE_TEMPLATE)
    after = make_db_pair(clusters, LEGACY_BASE_TEMPLATE)
    try:
        build.simulate_activity(clusters.pair, after.legacy_db, days=7, seed=99)
        with after.legacy_app() as conn:
            keys = [
                r[0]
                for r in conn.execute(
                    "select legacy_id from sandbox.activity_log where table_name = 'dispatch_patient' "
                    "and kind = 'update_untouched'"
                )
            ]
            assert keys
            new_rows = dict(
                conn.execute(
                    "select id, (p.*)::text from dispatch_patient p where id = any(%s)", (keys,)
                ).fetchall()
            )
            new_stamps = dict(
                conn.execute(
                    "select id, updated_at from dispatch_patient where id = any(%s)", (keys,)
                ).fetchall()
            )
        with before.legacy_app() as conn:
            old_rows = dict(
                conn.execute(
                    "select id, (p.*)::text from dispatch_patient p where id = any(%s)", (keys,)
                ).fetchall()
            )
            old_stamps = dict(
                conn.execute(
                    "select id, updated_at from dispatch_patient where id = any(%s)", (keys,)
                ).fetchall()
            )
        for key in keys:
            if key in old_rows and key in new_rows:
                assert new_stamps[key] == old_stamps[key]
                assert new_rows[key] != old_rows[key]
    finally:
        for dbs in (before, after):
            build.drop_database(clusters.legacy, dbs.legacy_db)
            build.drop_database(clusters.target, dbs.target_db)


def test_activity_is_deterministic_and_continues(clusters: ClusterPair) -> None:
    one = make_db_pair(clusters, LEGACY_BASE_TEMPLATE)
    two = make_db_pair(clusters, LEGACY_BASE_TEMPLATE)
    try:
        logs = []
        for dbs in (one, two):
            build.simulate_activity(clusters.pair, dbs.legacy_db, days=3, seed=5)
            second = build.simulate_activity(clusters.pair, dbs.legacy_db, days=3, seed=6)
            assert second.batch == 2
            with dbs.legacy_app() as conn:
                logs.append(
                    conn.execute(
                        "select batch, happened_at, table_name, legacy_id, kind from sandbox.activity_log "
                        "order by id"
                    ).fetchall()
                )
                (column,) = conn.execute(
                    "select count(*) from information_schema.columns where table_name = "
                    "'dispatch_office' and column_name = 'email'"
                ).fetchone()
                assert column == 1
        assert logs[0] == logs[1]
        assert {r[0] for r in logs[0]} == {1, 2}
        first_batch_end = max(r[1] for r in logs[0] if r[0] == 1)
        assert min(r[1] for r in logs[0] if r[0] == 2) >= first_batch_end.replace(
            hour=0, minute=0, second=0
        )
    finally:
        for dbs in (one, two):
            build.drop_database(clusters.legacy, dbs.legacy_db)
            build.drop_database(clusters.target, dbs.target_db)


# The second wave's activity (world.md 8.6): (table, kind) pairs every batch logs.
WAVE2_CHANGES = {
    ("dispatch_plan", "insert"),
    ("dispatch_plan", "update_untouched"),
    ("dispatch_plan", "delete"),
    ("dispatch_comment", "insert"),
    ("dispatch_comment", "delete"),
    ("dispatch_task", "insert"),
    ("dispatch_task", "update_untouched"),
    ("dispatch_task", "delete"),
    ("dispatch_template", "update_untouched"),
    ("dispatch_role_permissions", "update_untouched"),
    ("dispatch_template_products", "delete"),
    ("dispatch_template_view_roles", "delete"),
    ("dispatch_template_edit_roles", "delete"),
    ("dispatch_template_view_groups", "delete"),
    ("dispatch_template_predecessors", "delete"),
}


def test_the_second_wave_moves(db_pair: DbPair) -> None:
    with db_pair.legacy_app() as conn:
        logged = set(
            conn.execute("select distinct table_name, kind from sandbox.activity_log").fetchall()
        )
        (checked_in_place,) = conn.execute(
            "select count(*) from sandbox.activity_log l join dispatch_task t "
            "on t.id = l.legacy_id where l.table_name = 'dispatch_task' "
            "and l.kind = 'update_untouched' and t.checked and t.done_at is not null"
        ).fetchone()
        (new_plans_on_instructions,) = conn.execute(
            "select count(*) from sandbox.activity_log l join dispatch_plan p "
            "on p.id = l.legacy_id join dispatch_instruction i on i.id = p.instruction_id "
            "where l.table_name = 'dispatch_plan' and l.kind = 'insert'"
        ).fetchone()
        (duplicate_permissions,) = conn.execute(
            "select count(*) from (select role_id, permission_id from dispatch_role_permissions "
            "group by 1, 2 having count(*) > 1) d"
        ).fetchone()
    assert logged >= WAVE2_CHANGES, WAVE2_CHANGES - logged
    assert checked_in_place > 0
    assert new_plans_on_instructions > 0
    assert duplicate_permissions == 0
