"""The project's generic data tests (macros/tests/) catch what they should.

Each test syncs a fresh database pair (`diffmig sync`), builds offices and the migration_mappings
mart with dbt (in-process, its own target path), then breaks something on purpose and checks
that the right test fails, naming the offending key (the tests store their failing rows in
diffmig_audit). relationships_polymorphic and unique_combination have no subject in the project
yet (messages and the junction marts come later): they are exercised on a copy of the project
with an extra YAML that applies them to the app's messages and doctor_offices tables.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestrator.dbt_runner import BuildResult, DbtProject
from orchestrator.errors import RunFailed
from orchestrator.settings import Settings, load_settings
from orchestrator.sync.engine import SyncEngine
from tests.conftest import DbPair

ROOT = Path(__file__).resolve().parents[2]
OFFICE_NODES = ["+offices", "migration_mappings"]
OFFICE_TESTS = [
    "offices_parity_with_source",
    "offices_not_in_source",
    "offices_mapping_integrity",
    "int_offices_keyed_parity_with_source",
    "int_offices_keyed_target_id_by_origin",
]


@contextmanager
def closing_dbt_logs() -> Iterator[None]:
    """dbt replaces its log file handler at each in-process invocation without closing the old
    one (dbt_common's _get_python_log_for_handler); close it ourselves, or the leaked file turns
    into a ResourceWarning (an error under this suite's filterwarnings) in some later test."""
    try:
        yield
    finally:
        for logger in list(logging.Logger.manager.loggerDict.values()):
            for handler in getattr(logger, "handlers", []):
                if isinstance(handler, logging.FileHandler):
                    handler.close()


def dbt_build(project: DbtProject, select: list[str], **vars_: Any) -> BuildResult:
    with closing_dbt_logs():
        # The mappings mart reads every mart; these builds select offices and it alone, so it is
        # built on its own with only its own tests (the other marts' tests would fail: their
        # marts are not built here).
        rest = [n for n in select if n != "migration_mappings"]
        first = project.build(rest, vars_=vars_) if rest else BuildResult(success=True)
        if len(rest) == len(select):
            return first
        second = project.build(
            ["migration_mappings", "offices_mapping_integrity"],
            vars_=vars_,
            indirect_selection="cautious",
        )
        return BuildResult(
            success=first.success and second.success, nodes=first.nodes + second.nodes
        )


@dataclass
class Built:
    dbs: DbPair
    settings: Settings
    project: DbtProject
    run_id: int
    result: BuildResult

    def build(self, select: list[str], **vars_: Any) -> BuildResult:
        return dbt_build(self.project, select, run_id=self.run_id, **vars_)

    def failing_rows(self, test_name: str) -> list[dict[str, Any]]:
        """The failing rows the test stored in diffmig_audit at its last run."""
        with self.dbs.target_tool() as conn:
            cur = conn.execute(f"select * from diffmig_audit.{test_name}")
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.dbs.target_tool() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []


def statuses(result: BuildResult) -> dict[str, str]:
    return {node.name: node.status for node in result.nodes}


def assert_models_built(result: BuildResult) -> None:
    """Every model and seed of the build succeeded (tests are checked one by one: a build that
    selects offices also runs other entities' tests that touch it)."""
    failed = [
        (n.name, n.status, n.message)
        for n in result.nodes
        if "test" not in n.resource_type and n.status != "success"
    ]
    assert not failed


def sync(dbs: DbPair) -> tuple[Settings, int]:
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    report = SyncEngine(settings).run()
    return settings, report.run_id


@pytest.fixture(scope="module")
def dbt_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One log folder for every dbt invocation of the module."""
    return tmp_path_factory.mktemp("dbt_logs")


@pytest.fixture
def built(db_pair: DbPair, tmp_path: Path, dbt_logs: Path) -> Built:
    """A synced pair with offices and migration_mappings built by dbt."""
    settings, run_id = sync(db_pair)
    project = DbtProject(settings, target_path=tmp_path / "target", log_path=dbt_logs)
    result = dbt_build(project, OFFICE_NODES, run_id=run_id)
    return Built(db_pair, settings, project, run_id, result)


def deletable_office(built: Built) -> tuple[int, str]:
    """An offices row no other table references: (legacy_office_id, id), deleted."""
    with built.dbs.target_tool() as conn:
        candidates = conn.execute(
            "select legacy_office_id, id::text from public.offices "
            "where legacy_office_id is not null order by legacy_office_id desc"
        ).fetchall()
        for legacy_id, office_id in candidates:
            try:
                with conn.transaction():
                    conn.execute("delete from public.offices where id = %s", (office_id,))
            except psycopg.errors.ForeignKeyViolation:  # referenced: try the next one
                continue
            return int(legacy_id), office_id
    pytest.fail("every office is referenced by another table")


# --- a clean build -------------------------------------------------------------------------------


def test_clean_build_passes_and_maps_every_office(built: Built) -> None:
    assert_models_built(built.result)
    status = statuses(built.result)
    assert {name: status.get(name) for name in OFFICE_TESTS} == {
        name: "warn" if name == "offices_mapping_integrity" else "pass" for name in OFFICE_TESTS
    }
    plain = [n for n in status if n.startswith(("unique_", "not_null_", "accepted_values_"))]
    assert {n: status[n] for n in plain if "offices" in n or "migration_mappings" in n} == {
        n: "pass" for n in plain if "offices" in n or "migration_mappings" in n
    }
    # What mapping_integrity still finds after the mappings mart ran: only the earlier scripts'
    # own mappings (the planted junk office 0 among them), never an unmapped office.
    found = built.failing_rows("offices_mapping_integrity")
    assert {"junk_mapping"} <= {r["problem"] for r in found}
    assert any(r["legacy_id"] == 0 and r["problem"] == "junk_mapping" for r in found)
    assert not [r for r in found if r["problem"] == "row_without_mapping"]
    batches = dict(
        built.execute(
            "select legacy_id, migration_batch from public.migration_mappings "
            "where entity_type = 'office'"
        )
    )
    assert not [r for r in found if batches.get(r["legacy_id"], "").startswith("diffmig-")]


def test_mapped_tables_are_analyzed_as_soon_as_built(built: Built) -> None:
    """The analyze_if_table post-hook: int_offices_mapped (a table) has planner statistics right
    after the build, before autovacuum could reach it."""
    reltuples = built.execute(
        "select reltuples from pg_class where oid = 'diffmig_int.int_offices_mapped'::regclass"
    )[0][0]
    assert reltuples >= 0  # -1 until a table is first analyzed


def test_migration_mappings_insert_only(db_pair: DbPair, tmp_path: Path, dbt_logs: Path) -> None:
    settings, run_id = sync(db_pair)
    with db_pair.target_tool() as conn:
        before = set(conn.execute("select * from public.migration_mappings").fetchall())
    project = DbtProject(settings, target_path=tmp_path / "target", log_path=dbt_logs)
    assert_models_built(dbt_build(project, OFFICE_NODES, run_id=run_id))
    with db_pair.target_tool() as conn:
        after = set(conn.execute("select * from public.migration_mappings").fetchall())
        offices = dict(
            conn.execute(
                "select legacy_office_id, id from public.offices where legacy_office_id is not null"
            )
        )
    assert before <= after, "an existing mapping (junk included) was changed or deleted"
    added = after - before
    # The mart maps the target rows of every keyed entity (the earlier scripts' rows too); the
    # offices are the ones this build applied.
    added_offices = {r for r in added if r[0] == "office"}
    assert added_offices, "no office got a mapping"
    assert {r[4] for r in added} == {f"diffmig-run-{run_id}"}
    mapped = {r[1]: r[2] for r in after if r[0] == "office"}
    assert set(offices) <= set(mapped)
    assert {r[1]: r[2] for r in added_offices} == {
        k: offices[k] for k in (r[1] for r in added_offices)
    }
    # A second build finds every office mapped: nothing inserted.
    again = dbt_build(project, ["migration_mappings"], run_id=run_id + 1)
    node = next(n for n in again.nodes if n.name == "migration_mappings")
    assert node.rows_affected == 0
    with db_pair.target_tool() as conn:
        assert set(conn.execute("select * from public.migration_mappings").fetchall()) == after


# --- row bookkeeping in a delta build -----------------------------------------------------------


def test_delta_build_sees_open_issues_again_and_opens_missing_ones_once(built: Built) -> None:
    """A delta build looks each current issue's open issue up by key (record_row_issues): an
    issue seen again stays the same row (run and last_seen_at move), one closed meanwhile is
    opened again once, and an error whose cause is gone is resolved."""
    open_warnings = built.execute(
        "select legacy_key, reason from diffmig.row_issues where entity = 'offices' "
        "and resolved_at is null and severity = 'warning' order by legacy_key, reason"
    )
    keys = sorted({key for key, _ in open_warnings})
    assert len(keys) >= 2, "the sandbox's offices carry warnings (drift, blank names, ...)"
    seen_key, reopened_key = keys[0], keys[1]
    seen = built.execute(
        "select issue_id, reason, last_seen_at from diffmig.row_issues where entity = 'offices' "
        "and legacy_key = %s and resolved_at is null order by issue_id",
        (seen_key,),
    )
    reopened_reasons = sorted(r for k, r in open_warnings if k == reopened_key)
    built.execute(
        "update diffmig.row_issues set resolved_at = now() where entity = 'offices' "
        "and legacy_key = %s and resolved_at is null",
        (reopened_key,),
    )
    # Open errors are retried by the next delta build: both offices are considered again, and
    # no mirror row changed since the sync (since_run is its run).
    for key in (seen_key, reopened_key):
        built.execute(
            "insert into diffmig.row_issues (entity, table_name, legacy_key, severity, reason) "
            "values ('offices', 'dispatch_office', %s, 'error', 'pytest_retry')",
            (key,),
        )
    delta_run = built.run_id + 1
    result = dbt_build(built.project, ["offices"], since_run=built.run_id, run_id=delta_run)
    assert_models_built(result)

    after = built.execute(
        "select issue_id, reason, last_seen_at, run_id from diffmig.row_issues "
        "where entity = 'offices' and legacy_key = %s and resolved_at is null order by issue_id",
        (seen_key,),
    )
    assert [(i, r) for i, r, _, _ in after] == [(i, r) for i, r, _ in seen]
    assert all(run == delta_run for _, _, _, run in after)
    assert all(
        later > earlier for (_, _, later, _), (_, _, earlier) in zip(after, seen, strict=True)
    )
    assert (
        sorted(
            r
            for (r,) in built.execute(
                "select reason from diffmig.row_issues where entity = 'offices' "
                "and legacy_key = %s and resolved_at is null",
                (reopened_key,),
            )
        )
        == reopened_reasons
    )
    assert (
        built.execute(
            "select legacy_key from diffmig.row_issues where entity = 'offices' "
            "and reason = 'pytest_retry' and resolved_at is null"
        )
        == []
    )


# --- parity_with_source --------------------------------------------------------------------------


def test_parity_catches_a_missing_office_unless_held_back(built: Built) -> None:
    legacy_id, office_id = deletable_office(built)
    parity = ["offices_parity_with_source"]
    # (Built apart: in a build, a failing error-severity test on offices skips what depends on
    # the migration_mappings mart, mapping_integrity included.)
    assert statuses(built.build(parity)) == {"offices_parity_with_source": "fail"}
    assert built.failing_rows("offices_parity_with_source") == [
        {"legacy_key": str(legacy_id), "problem": "missing_in_target"}
    ]
    # Its mapping now points at no row.
    assert statuses(built.build(["offices_mapping_integrity"])) == {
        "offices_mapping_integrity": "warn"
    }
    assert {
        (r["legacy_id"], str(r["new_id"]), r["problem"])
        for r in built.failing_rows("offices_mapping_integrity")
        if r["legacy_id"] == legacy_id
    } == {(legacy_id, office_id, "new_id_not_in_table")}

    # Held back (an open error issue) is accounted for; a warning is not.
    built.execute(
        "insert into diffmig.row_issues (entity, table_name, legacy_key, severity, reason) "
        "values ('offices', 'dispatch_office', %s, 'warning', 'pytest_warning')",
        (str(legacy_id),),
    )
    assert statuses(built.build(parity)) == {"offices_parity_with_source": "fail"}
    built.execute(
        "insert into diffmig.row_issues (entity, table_name, legacy_key, severity, reason) "
        "values ('offices', 'dispatch_office', %s, 'error', 'pytest_held_back')",
        (str(legacy_id),),
    )
    assert statuses(built.build(parity)) == {"offices_parity_with_source": "pass"}

    # The next build retries it: the office is back with its UUID and the issues are resolved.
    rebuilt = built.build(["offices"])
    assert_models_built(rebuilt)
    assert statuses(rebuilt)["offices_parity_with_source"] == "pass"
    assert built.execute(
        "select id::text from public.offices where legacy_office_id = %s", (legacy_id,)
    ) == [(office_id,)]
    assert (
        built.execute(
            "select reason from diffmig.row_issues where entity = 'offices' and legacy_key = %s "
            "and resolved_at is null",
            (str(legacy_id),),
        )
        == []
    )


def test_parity_extra_part_reports_offices_unknown_to_the_source(built: Built) -> None:
    assert statuses(built.result)["offices_not_in_source"] == "pass"
    built.execute(
        "insert into public.offices (name, legacy_office_id) values ('Not in legacy', 987654)"
    )
    result = built.build(["offices_not_in_source", "offices_parity_with_source"])
    assert result.success, "the extra part is a warning"
    assert statuses(result) == {
        "offices_not_in_source": "warn",
        "offices_parity_with_source": "pass",
    }
    assert built.failing_rows("offices_not_in_source") == [
        {"legacy_key": "987654", "problem": "not_in_scope"}
    ]


# --- mapping_integrity ---------------------------------------------------------------------------


def test_mapping_integrity_reports_each_problem(built: Built) -> None:
    offices = built.execute(
        "select legacy_office_id, id::text from public.offices "
        "where legacy_office_id is not null order by legacy_office_id"
    )
    assert len(offices) >= 3
    (dup_key, dup_id), (wrong_key, _), (unmapped_key, unmapped_id) = offices[:3]
    built.execute(
        "insert into public.migration_mappings values "
        "('doctor', 987654, %s, now(), 'pytest'), "
        "('office', 424242, gen_random_uuid(), now(), 'pytest'), "
        "('office', -5, 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', now(), 'pytest')",
        (dup_id,),
    )
    built.execute(
        "update public.migration_mappings set new_id = %s "
        "where entity_type = 'office' and legacy_id = %s",
        (unmapped_id, wrong_key),
    )
    built.execute(
        "delete from public.migration_mappings where entity_type = 'office' and legacy_id = %s",
        (unmapped_key,),
    )
    result = built.build(["offices_mapping_integrity"])
    assert result.success, "mapping_integrity is a warning"
    assert statuses(result) == {"offices_mapping_integrity": "warn"}
    found = {
        r["legacy_id"]: (r["problem"], r["detail"])
        for r in built.failing_rows("offices_mapping_integrity")
    }
    assert found[dup_key][0] == "duplicate_new_id"
    assert "doctor 987654" in found[dup_key][1]
    assert found[424242][0] == "new_id_not_in_table"
    assert found[-5] == ("junk_mapping", "legacy_id missing or not positive")
    assert found[wrong_key] == (
        "new_id_of_another_row",
        f"the row is legacy_office_id {unmapped_key}",
    )
    assert found[unmapped_key][0] == "row_without_mapping"
    assert found[0][0] == "junk_mapping"  # the earlier scripts' planted junk


# --- relationships_polymorphic and unique_combination, on a copy of the project ----------------

EXTRA_MODELS = {
    "pytest_messages.sql": "select * from {{ source('supabase', 'messages') }}\n",
    "pytest_doctor_offices.sql": "select * from {{ source('supabase', 'doctor_offices') }}\n",
    "_pytest.yml": """\
models:
  - name: pytest_messages
    description: The app's messages (a pytest fixture).
    columns:
      - name: id
        description: The message's UUID.
        data_tests:
          - name: pytest_messages_id_enforced
            test_name: unique_enforced
            arguments:
              table: "source('supabase', 'messages')"
            config:
              store_failures: true
      - name: recipient_id
        description: Polymorphic.
        data_tests:
          - name: pytest_messages_recipient
            test_name: relationships_polymorphic
            arguments:
              type_column: recipient_type
              targets:
                patient: {to: "source('supabase', 'patients')", field: id}
                user: {to: "source('supabase', 'profiles')", field: id}
                order: {to: "source('supabase', 'orders')", field: id}
                system: null
            config:
              store_failures: true
  - name: pytest_doctor_offices
    description: The app's doctor_offices (a pytest fixture).
    data_tests:
      - name: pytest_doctor_offices_grain
        test_name: unique_combination
        arguments:
          combination: [doctor_id, office_id]
        config:
          store_failures: true
""",
}


def project_copy(tmp_path: Path, extra: dict[str, str]) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", "selectors.yml"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, copy / name)
    for folder in ("models", "macros", "seeds", "tests/dbt"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, copy / folder)
    extra_dir = copy / "models" / "pytest"
    extra_dir.mkdir()
    for name, text in extra.items():
        (extra_dir / name).write_text(text)
    return copy


def test_polymorphic_and_combination_tests(db_pair: DbPair, tmp_path: Path, dbt_logs: Path) -> None:
    settings, run_id = sync(db_pair)
    copy = project_copy(tmp_path, EXTRA_MODELS)
    project = DbtProject(
        settings, project_dir=copy, target_path=tmp_path / "target", log_path=dbt_logs
    )
    built = Built(db_pair, settings, project, run_id, BuildResult(True))
    tests = [
        "pytest_messages_recipient",
        "pytest_doctor_offices_grain",
        "pytest_messages_id_enforced",
    ]
    clean = built.build(["pytest_messages", "pytest_doctor_offices"])
    assert clean.success
    assert statuses(clean)["pytest_doctor_offices_grain"] == "pass"
    assert statuses(clean)["pytest_messages_id_enforced"] == "pass"  # the primary key
    baseline = {
        (r["type_value"], r["child_value"], r["problem"])
        for r in built.failing_rows("pytest_messages_recipient")
    }

    patient_message, user_message = (
        built.execute(
            "select id::text from public.messages where recipient_type = %s "
            "and recipient_id is not null order by id limit 1",
            (kind,),
        )[0][0]
        for kind in ("patient", "user")
    )
    # A patient message pointing at a profile, a user message at nothing, and a message of a
    # type no target declares.
    profile_id = str(built.execute("select id from public.profiles limit 1")[0][0])
    built.execute(
        "update public.messages set recipient_id = %s where id = %s", (profile_id, patient_message)
    )
    built.execute(
        "update public.messages set recipient_id = gen_random_uuid() where id = %s",
        (user_message,),
    )
    built.execute(
        "insert into public.messages (content, recipient_type, recipient_id) "
        "values ('pytest', 'carrier_pigeon', gen_random_uuid())"
    )
    # doctor_offices without its unique constraint, and a pair twice.
    with db_pair.target_admin() as conn:
        name = conn.execute(
            "select conname from pg_constraint where conrelid = 'public.doctor_offices'::regclass "
            "and contype = 'u'"
        ).fetchone()
        assert name is not None
        conn.execute(f'alter table public.doctor_offices drop constraint "{name[0]}"')
        # messages without its primary key (and the foreign keys that lean on it).
        conn.execute("alter table public.messages drop constraint messages_pkey cascade")
        pair = conn.execute(
            "insert into public.doctor_offices (doctor_id, office_id) "
            "select doctor_id, office_id from public.doctor_offices limit 1 "
            "returning doctor_id::text, office_id::text"
        ).fetchone()
    assert pair is not None

    result = built.build(tests)
    assert statuses(result) == {
        "pytest_messages_recipient": "fail",
        "pytest_doctor_offices_grain": "fail",
        "pytest_messages_id_enforced": "fail",
    }
    assert [
        (r["enforcing_column"], r["problem"])
        for r in built.failing_rows("pytest_messages_id_enforced")
    ] == [("id", "no valid unique index on this one column")]
    found = {
        (r["type_value"], str(r["child_value"]), r["problem"])
        for r in built.failing_rows("pytest_messages_recipient")
    } - {(t, str(v), p) for t, v, p in baseline}
    broken_user = built.execute(
        "select recipient_id::text from public.messages where id = %s", (user_message,)
    )[0][0]
    pigeon = built.execute(
        "select recipient_id::text from public.messages where recipient_type = 'carrier_pigeon'"
    )[0][0]
    assert found == {
        ("patient", profile_id, "not_found"),
        ("user", broken_user, "not_found"),
        ("carrier_pigeon", pigeon, "type_without_target"),
    }
    assert [
        (str(r["doctor_id"]), str(r["office_id"]), r["n_rows"])
        for r in built.failing_rows("pytest_doctor_offices_grain")
    ] == [(pair[0], pair[1], 2)]


# --- dbt's unique, not_null and relationships: proved from the catalog, else scanned ----------

CATALOG_MODELS = {
    "_pytest_sources.yml": """\
sources:
  - name: pytest_app
    description: Two app tables, tested in place (a pytest fixture).
    schema: public
    tables:
      - name: offices
        description: The app's offices.
        columns:
          - name: id
            description: Primary key.
            data_tests:
              - name: pytest_offices_id_unique
                test_name: unique
                config: {store_failures: true}
              - name: pytest_offices_id_not_null
                test_name: not_null
                config: {store_failures: true}
      - name: doctor_offices
        description: The app's doctor_offices.
        data_tests:
          - name: pytest_doctor_offices_pair
            test_name: unique_combination
            arguments:
              combination: [doctor_id, office_id]
        columns:
          - name: office_id
            description: Foreign key to offices.
            data_tests:
              - name: pytest_doctor_offices_office
                test_name: relationships
                arguments:
                  to: "source('pytest_app', 'offices')"
                  field: id
                config: {store_failures: true}
""",
}
CATALOG_TESTS = (
    "pytest_offices_id_unique",
    "pytest_offices_id_not_null",
    "pytest_doctor_offices_pair",  # unique_combination, proved by the unique constraint
)


def scanned_tables(built: Built, test_name: str) -> set[str]:
    """The app tables the test's compiled query read at least one row of (EXPLAIN ANALYZE: a
    plan node that was never executed has 0 loops)."""
    compiled = next(built.project.target_path.glob(f"compiled/**/{test_name}.sql")).read_text()
    plan = built.execute(f"explain (analyze, verbose, format json) {compiled}")[0][0][0]["Plan"]
    read: set[str] = set()
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Schema") == "public" and node.get("Actual Loops", 0) > 0:
            read.add(node["Relation Name"])
        stack.extend(node.get("Plans", []))
    return read


def test_builtin_tests_trust_unique_and_not_null_constraints_and_scan_without_them(
    db_pair: DbPair, tmp_path: Path, dbt_logs: Path
) -> None:
    settings, run_id = sync(db_pair)
    copy = project_copy(tmp_path, CATALOG_MODELS)
    project = DbtProject(
        settings, project_dir=copy, target_path=tmp_path / "target", log_path=dbt_logs
    )
    built = Built(db_pair, settings, project, run_id, BuildResult(True))
    built.build(["+offices", "+doctor_offices"])  # rows to test

    clean = built.build([*CATALOG_TESTS, "pytest_doctor_offices_office"])
    assert statuses(clean) == dict.fromkeys(
        [*CATALOG_TESTS, "pytest_doctor_offices_office"], "pass"
    )
    # The primary key, the NOT NULL and the unique pair prove theirs: no row read.
    for test_name in CATALOG_TESTS:
        assert scanned_tables(built, test_name) == set(), test_name
    # A foreign key proves nothing: rows written in replica mode (a restored dump, a bulk load
    # with triggers off) skip it. The relationships test scans and finds the orphan.
    assert scanned_tables(built, "pytest_doctor_offices_office") == {"offices", "doctor_offices"}
    with db_pair.target_admin() as conn:
        conn.execute("set session_replication_role = replica")
        orphan = conn.execute(
            "insert into public.doctor_offices (doctor_id, office_id) "
            "select doctor_id, gen_random_uuid() from public.doctor_offices limit 1 "
            "returning office_id::text"
        ).fetchone()
    assert orphan is not None
    found = built.build(["pytest_doctor_offices_office"])
    assert statuses(found) == {"pytest_doctor_offices_office": "fail"}
    assert {str(r["from_field"]) for r in built.failing_rows("pytest_doctor_offices_office")} == {
        orphan[0]
    }
    # Without the primary key and the NOT NULL, a duplicate and a null are found.
    with db_pair.target_admin() as conn:
        conn.execute("alter table public.offices drop constraint offices_pkey cascade")
        conn.execute("alter table public.offices alter column id drop not null")
        conn.execute(
            "insert into public.offices (id, name) select id, name || ' (copy)' "
            "from public.offices order by id limit 1"
        )
        conn.execute("insert into public.offices (id, name) values (null, 'pytest: no id')")
    broken = built.build(["pytest_offices_id_unique", "pytest_offices_id_not_null"])
    assert statuses(broken) == {
        "pytest_offices_id_unique": "fail",
        "pytest_offices_id_not_null": "fail",
    }
    assert [r["n_records"] for r in built.failing_rows("pytest_offices_id_unique")] == [2]
    assert [r["name"] for r in built.failing_rows("pytest_offices_id_not_null")] == [
        "pytest: no id"
    ]
    assert scanned_tables(built, "pytest_offices_id_unique") == {"offices"}


def test_partial_parse_when_the_overrides_arrive(
    db_pair: DbPair, tmp_path: Path, dbt_logs: Path
) -> None:
    """A target/ parsed by a version without the overridden built-in tests (an upgrade), then a
    test macro changed: dbt parses again only what changed, and the overrides must render then
    (a helper macro called from them was undefined in that partial parse)."""
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    copy = project_copy(tmp_path, {})
    overrides = copy / "macros" / "tests" / "catalog_proofs.sql"
    overrides.unlink()
    target = tmp_path / "target"
    with closing_dbt_logs():
        DbtProject(settings, project_dir=copy, target_path=target, log_path=dbt_logs).manifest()
        assert (target / "partial_parse.msgpack").is_file()
        shutil.copy(ROOT / "macros" / "tests" / "catalog_proofs.sql", overrides)
        macro = copy / "macros" / "tests" / "mapping_integrity.sql"
        macro.write_text(macro.read_text() + "\n{#- changed by a test -#}\n")
        manifest = DbtProject(
            settings, project_dir=copy, target_path=target, log_path=dbt_logs
        ).manifest()
    assert any(n.name == "int_offices_keyed" for n in manifest.nodes.values())


# --- argument validation -------------------------------------------------------------------------

BAD_ARGUMENTS = {
    "relationships_polymorphic": (
        "columns:\n      - name: id\n        description: x\n        data_tests:\n"
        "          - relationships_polymorphic:\n              arguments:\n"
        "                type_column: name\n                targets: [offices]\n",
        "relationships_polymorphic: targets must map",
    ),
    "parity_with_source": (
        "data_tests:\n      - parity_with_source:\n          arguments:\n"
        "            legacy_key: legacy_office_id\n            scope_relation: diffmig_stg.x\n"
        "            scope_key: legacy_office_id\n",
        "parity_with_source: scope_relation must be a ref() or source()",
    ),
    "mapping_integrity": (
        "data_tests:\n      - mapping_integrity:\n          arguments:\n"
        "            legacy_key: legacy_office_id\n            entity_type: ''\n",
        "mapping_integrity: entity_type must be",
    ),
    "mapping_integrity (convention_column)": (
        "data_tests:\n      - mapping_integrity:\n          arguments:\n"
        "            legacy_key: legacy_office_id\n            entity_type: office\n"
        "            convention_column: ''\n",
        "mapping_integrity: convention_column must be",
    ),
    "unique_enforced": (
        "columns:\n      - name: id\n        description: x\n        data_tests:\n"
        "          - unique_enforced:\n              arguments:\n"
        "                table_column: ''\n",
        "unique_enforced: table_column must be",
    ),
    "unique_combination": (
        "data_tests:\n      - unique_combination:\n          arguments:\n"
        "            combination: doctor_id\n",
        "unique_combination: combination must be a non-empty list",
    ),
}


@pytest.mark.parametrize("macro", sorted(BAD_ARGUMENTS))
def test_bad_arguments_name_the_macro(macro: str, tmp_path: Path, dbt_logs: Path) -> None:
    body, message = BAD_ARGUMENTS[macro]
    yml = "models:\n  - name: pytest_offices\n    description: x\n    " + body
    copy = project_copy(
        tmp_path,
        {"pytest_offices.sql": "select * from {{ ref('offices') }}\n", "_pytest.yml": yml},
    )
    # Parsing needs no database: any settings do.
    unused = {
        f"{side}_DB_{key}": value
        for side in ("SOURCE", "TARGET")
        for key, value in (("HOST", "127.0.0.1"), ("USER", "nobody"), ("NAME", "nothing"))
    }
    settings = load_settings(environ=unused, cwd=Path("/nonexistent"))
    project = DbtProject(
        settings, project_dir=copy, target_path=tmp_path / "target", log_path=dbt_logs
    )
    with closing_dbt_logs(), pytest.raises(RunFailed, match=re.escape(message)):
        project.manifest()
