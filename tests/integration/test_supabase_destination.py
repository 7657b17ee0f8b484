"""The Supabase emulation against world.md section 4."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from orchestrator.sandbox import build
from tests.conftest import DbPair
from tests.integration.world import (
    COMMON_TARGET_COLUMNS,
    TARGET_COLUMNS,
    TARGET_ENUMS,
    TARGET_JUNCTIONS,
    TARGET_NON_UNIQUE_LEGACY_KEYS,
    TARGET_UNIQUE_LEGACY_KEYS,
)


def test_app_tables_and_columns_match_world(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        rows = conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'public'"
        ).fetchall()
    actual: dict[str, set[str]] = {}
    for table, column in rows:
        actual.setdefault(table, set()).add(column)
    for table, columns in TARGET_COLUMNS.items():
        assert table in actual, table
        assert actual[table] == columns | COMMON_TARGET_COLUMNS, table
    assert {"migration_mappings", "migration_control"} <= set(actual)
    assert actual["migration_mappings"] == {
        "entity_type",
        "legacy_id",
        "new_id",
        "migrated_at",
        "migration_batch",
    }


def test_enums(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        rows = conn.execute(
            "select t.typname, e.enumlabel from pg_enum e join pg_type t on t.oid = e.enumtypid "
            "join pg_namespace n on n.oid = t.typnamespace where n.nspname = 'public'"
        ).fetchall()
    actual: dict[str, set[str]] = {}
    for name, label in rows:
        actual.setdefault(name, set()).add(label)
    for name, labels in TARGET_ENUMS.items():
        assert actual.get(name) == labels, name


def test_legacy_keys_are_unique(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        for table, column in TARGET_UNIQUE_LEGACY_KEYS.items():
            (n,) = conn.execute(
                "select count(*) from pg_index i join pg_attribute a "
                "on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
                "where i.indrelid = %s::regclass and i.indisunique and i.indnatts = 1 "
                "and a.attname = %s",
                (f"public.{table}", column),
            ).fetchone()
            assert n >= 1, f"{table}.{column} has no unique index"


def test_second_wave_keys_left_without_unique_constraints(db_pair: DbPair) -> None:
    """treatment_plans lost its constraint; case_messages holds each comment about twice."""
    with db_pair.target_tool() as conn:
        for table, column in TARGET_NON_UNIQUE_LEGACY_KEYS.items():
            (n,) = conn.execute(
                "select count(*) from pg_index i join pg_attribute a "
                "on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
                "where i.indrelid = %s::regclass and i.indisunique and a.attname = %s",
                (f"public.{table}", column),
            ).fetchone()
            assert n == 0, f"{table}.{column} has a unique index"


def test_junctions_unique_pairs_cascading_from_the_template(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        for table, (parent, other) in TARGET_JUNCTIONS.items():
            unique_pairs = conn.execute(
                "select array_agg(a.attname::text order by a.attname) from pg_constraint c "
                "join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey) "
                "where c.conrelid = %s::regclass and c.contype = 'u' group by c.oid",
                (f"public.{table}",),
            ).fetchall()
            assert [sorted([parent, other])] in [list(r) for r in unique_pairs], table
            (delete_rule,) = conn.execute(
                "select c.confdeltype from pg_constraint c join pg_attribute a "
                "on a.attrelid = c.conrelid and a.attnum = c.conkey[1] "
                "where c.conrelid = %s::regclass and c.contype = 'f' and a.attname = %s",
                (f"public.{table}", parent),
            ).fetchone()
            assert delete_rule == "c", table
            nullable = dict(
                conn.execute(
                    "select column_name, is_nullable from information_schema.columns "
                    "where table_schema = 'public' and table_name = %s",
                    (table,),
                ).fetchall()
            )
            assert (nullable[parent], nullable[other]) == ("NO", "NO"), table


def test_rls_on_every_app_table(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        rows = dict(
            conn.execute(
                "select relname, relrowsecurity from pg_class c join pg_namespace n "
                "on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'"
            ).fetchall()
        )
    for table in TARGET_COLUMNS:
        assert rows[table] is True, table


def test_emulation_self_checks(db_pair: DbPair) -> None:
    with db_pair.target_admin() as conn:
        failed = [
            r for r in conn.execute(build.sql_file("supabase_checks.sql")).fetchall() if not r[1]
        ]
    assert not failed


def test_tool_role_is_supabase_postgres(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        row = conn.execute(
            "select rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, "
            "rolbypassrls from pg_roles where rolname = current_user"
        ).fetchone()
        assert row == (False, True, True, True, True, True)
        # As on Supabase (its extension guard allows it): diffmig must never do it
        # (tests/integration/test_no_constraint_bypass.py).
        conn.execute("set session_replication_role = replica")
        conn.execute("reset session_replication_role")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create extension if not exists file_fdw")
        memberships = conn.execute(
            "select pg_has_role('pg_monitor', 'member'), pg_has_role('pg_read_all_data', "
            "'member'), pg_has_role('pg_signal_backend', 'member')"
        ).fetchone()
        assert memberships == (True, True, True)


def test_postgres_fdw_is_not_installed_but_postgres_may_create_it(db_pair: DbPair) -> None:
    """A new project has no postgres_fdw; the extension guard lets postgres create it, and it
    then owns the wrapper (world.md section 4)."""
    with db_pair.target_tool() as conn:
        assert (
            conn.execute("select 1 from pg_extension where extname = 'postgres_fdw'").fetchone()
            is None
        )
        with conn.transaction(force_rollback=True):
            conn.execute("create extension if not exists postgres_fdw with schema extensions")
            row = conn.execute(
                "select e.extnamespace::regnamespace::text, pg_get_userbyid(w.fdwowner) "
                "from pg_extension e, pg_foreign_data_wrapper w "
                "where e.extname = 'postgres_fdw' and w.fdwname = 'postgres_fdw'"
            ).fetchone()
            assert row == ("extensions", "postgres")
            (superuser,) = conn.execute(
                "select rolsuper from pg_roles where rolname = 'postgres'"
            ).fetchone()
            assert superuser is False
        # Without IF NOT EXISTS, as a second CREATE would, it fails (the guard created it first).
        with pytest.raises(errors.DuplicateObject):
            conn.execute("create extension postgres_fdw with schema extensions")


def test_statement_history_is_kept_and_readable_by_postgres(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        conn.execute("select 'a literal' as statement_history_probe")
        rows = conn.execute(
            "select query from extensions.pg_stat_statements "
            "where query like '%statement_history_probe' and query not like '%pg_stat_statements%'"
        ).fetchall()
    # Kept, with literals replaced by placeholders (bound parameters are never there).
    assert rows == [("select $1 as statement_history_probe",)]
    # A utility statement is kept as sent, literals included: why no secret may be one.
    probe = "set application_name = 'kept-verbatim-probe'"
    with db_pair.target_tool() as conn:
        conn.execute(probe)
        (kept,) = conn.execute(
            "select count(*) from extensions.pg_stat_statements where query = %s", (probe,)
        ).fetchone()
    assert kept == 1


def test_private_schemas_are_not_readable_by_api_roles(db_pair: DbPair) -> None:
    """What the tool creates in its own schemas stays out of anon's and authenticated's reach."""
    with db_pair.target_tool() as conn:
        conn.execute("create schema diffmig_probe")
        conn.execute("create table diffmig_probe.secret_rows (id int, password_hash text)")
        conn.execute("insert into diffmig_probe.secret_rows values (1, 'x')")
        for role in ("anon", "authenticated"):
            conn.execute(f"set role {role}")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("select * from diffmig_probe.secret_rows")
            conn.execute("reset role")


def test_public_tables_are_granted_to_api_roles_but_filtered_by_rls(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        (offices,) = conn.execute("select count(*) from public.offices").fetchone()
        assert offices > 0
        conn.execute("set role anon")
        (visible,) = conn.execute("select count(*) from public.offices").fetchone()
        conn.execute("reset role")
    assert visible == 0


def test_validate_orders_trigger_rejects_a_non_doctor(db_pair: DbPair) -> None:
    with db_pair.target_tool() as conn:
        patient_id, profile_id = conn.execute(
            "select id, profile_id from patients limit 1"
        ).fetchone()
        conn.execute(
            "insert into doctors (profile_id, legacy_user_id) values (%s, -1)", (profile_id,)
        )
        (bad_doctor,) = conn.execute("select id from doctors where legacy_user_id = -1").fetchone()
        with pytest.raises(psycopg.Error):
            conn.execute(
                "insert into orders (patient_id, doctor_id, legacy_instruction_id) "
                "values (%s, %s, -1)",
                (patient_id, bad_doctor),
            )


def test_roles_without_their_own_statement_timeout_get_two_minutes(db_pair: DbPair) -> None:
    """Hosted Supabase's global statement_timeout (world.md section 4); a session may set its
    own, which is what diffmig does (DIFFMIG_STATEMENT_TIMEOUT)."""
    with db_pair.target_tool() as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("2min",)
        conn.execute("set statement_timeout = 0")
        assert conn.execute("show statement_timeout").fetchone() == ("0",)
    with db_pair.target_admin() as conn:
        # Roles that set their own keep it: the API roles', and the superuser's (none).
        assert conn.execute("show statement_timeout").fetchone() == ("0",)
        settings = dict(
            conn.execute(
                "select r.rolname, s.setconfig from pg_db_role_setting s "
                "join pg_roles r on r.oid = s.setrole where s.setdatabase = 0"
            ).fetchall()
        )
    assert "statement_timeout=3s" in settings["anon"]
    assert not any(c.startswith("statement_timeout") for c in settings["postgres"])


def test_new_tables_in_public_are_not_granted_to_api_roles(db_pair: DbPair) -> None:
    """Since late 2026 (world.md section 4): the app's existing tables keep their grants."""
    with db_pair.target_tool() as conn:
        conn.execute("create table public.new_probe (id int)")
        for role in ("anon", "authenticated", "service_role"):
            granted = conn.execute(
                "select has_table_privilege(%s, 'public.new_probe', 'SELECT'), "
                "has_table_privilege(%s, 'public.offices', 'SELECT')",
                (role, role),
            ).fetchone()
            assert granted == (False, True), role
