"""`diffmig validate`: the dbt tests plus the migration_mappings checks, on a fresh build of
offices (a synced pair, offices built with dbt in-process as `diffmig run` builds an entity; the
mappings mart is not built: `mappings repair` records the new offices' mappings), then with a
mapping deleted and with a foreign key broken: each time the offending key is named and the
exit code is 1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dbt_runner import DbtProject
from orchestrator.settings import Settings, load_settings
from orchestrator.sync.engine import SyncEngine
from tests.conftest import DbPair


@dataclass
class Built:
    dbs: DbPair
    settings: Settings
    project: DbtProject
    cwd: Path

    def diffmig(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env={**os.environ, **self.dbs.env()},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    def validate(self, *args: str) -> tuple[int, dict[str, Any], str]:
        out = self.diffmig("validate", "--entities", "offices", *args, "--output", "json")
        assert out.stdout, out.stderr
        return out.returncode, json.loads(out.stdout), out.stderr


@contextmanager
def closing_dbt_logs() -> Iterator[None]:
    """dbt replaces its log file handler at each in-process invocation without closing the old
    one; close it after each invocation, or the leaked file becomes a ResourceWarning (an error
    in this suite)."""
    try:
        yield
    finally:
        for logger in list(logging.Logger.manager.loggerDict.values()):
            for handler in getattr(logger, "handlers", []):
                if isinstance(handler, logging.FileHandler):
                    handler.close()


@pytest.fixture(scope="module")
def dbt_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_logs")


@pytest.fixture
def built(db_pair: DbPair, tmp_path: Path, dbt_logs: Path) -> Built:
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    run_id = SyncEngine(settings).run().run_id
    project = DbtProject(settings, target_path=tmp_path / "target", log_path=dbt_logs)
    # offices and every model, seed and view it reads (some are shared with, and in a run built
    # by, entities ordered before it), without the tests (a run proves its entities itself).
    with closing_dbt_logs():
        result = project.build(["+offices"], vars_={"run_id": run_id}, tests=False)
    assert not [n for n in result.failed if n.resource_type != "test"], result.failed
    assert "offices" in {n.name for n in result.nodes if n.status == "success"}
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Built(db_pair, settings, project, cwd)


def failing(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {t["test"]: t["keys"] for t in doc["failing_tests"] if t["status"] != "warn"}


def mapping_keys(doc: dict[str, Any], problem: str) -> set[int]:
    return {
        k
        for p in doc["mappings"]["problems"]
        if p["entity_type"] == "office" and p["problem"] == problem
        for k in p["keys"]
    }


def office_referenced_by(built: Built) -> tuple[str, str, int, str]:
    """A relationships test of the project that points at offices, and an office its column
    references: (test name, office id, legacy_office_id, referencing table)."""
    manifest = built.project.manifest()
    tests = [
        node
        for node in manifest.nodes.values()
        if node.resource_type == "test"
        and getattr(node, "test_metadata", None) is not None
        and node.test_metadata.name == "relationships"
        and "'offices'" in str(node.test_metadata.kwargs.get("to", ""))
    ]
    assert tests, "no relationships test points at offices"
    with built.dbs.target_tool() as conn:
        for test in sorted(tests, key=lambda t: t.name):
            table = manifest.nodes[test.attached_node].name
            column = test.column_name
            row = conn.execute(
                f"select o.id::text, o.legacy_office_id from public.offices o "  # noqa: S608
                f"where o.legacy_office_id is not null and exists "
                f"(select 1 from public.{table} t where t.{column} = o.id) "
                "order by o.legacy_office_id limit 1"
            ).fetchone()
            if row:
                return test.name, row[0], int(row[1]), table
    pytest.fail("no office is referenced through a tested relationship")


def test_validate_clean_then_names_what_breaks(built: Built) -> None:
    # The earlier scripts' office mappings are set right first (what `mappings repair` is for);
    # their junk stays, reported only.
    repair = built.diffmig("mappings", "repair", "--entities", "office", "--apply")
    assert repair.returncode == 0, repair.stderr

    code, doc, err = built.validate()
    assert code == 0, (failing(doc), doc["mappings"]["totals"], err)
    assert doc["clean"] is True
    assert doc["tests"]["run"] > 0
    assert doc["tests"]["failed"] == 0
    assert doc["mappings"]["violations"] == 0
    assert [e["entity_type"] for e in doc["mappings"]["entity_types"]] == ["office"]

    # A mapping deleted: exit 1, the key named (JSON and table output).
    with built.dbs.target_tool() as conn:
        key = conn.execute(
            "select legacy_id from public.migration_mappings m join public.offices o "
            "on o.id = m.new_id and o.legacy_office_id = m.legacy_id "
            "where m.entity_type = 'office' order by legacy_id limit 1"
        ).fetchone()[0]
        conn.execute(
            "delete from public.migration_mappings where entity_type = 'office' and legacy_id = %s",
            (key,),
        )
    code, doc, err = built.validate()
    assert code == 1
    assert doc["clean"] is False
    assert mapping_keys(doc, "missing_mapping") == {key}
    assert "migration_mappings problem rows" in err
    table = built.diffmig("validate", "--entities", "offices")
    assert table.returncode == 1
    assert any(
        "missing_mapping" in line and str(key) in line for line in table.stdout.splitlines()
    ), table.stdout

    # Repaired: clean again.
    assert built.diffmig("mappings", "repair", "--entities", "office", "--apply").returncode == 0
    assert built.validate()[0] == 0

    # A foreign key broken: an office other rows reference is deleted behind the constraints'
    # back (replica mode, as a bulk load with triggers off would). The entity's tests name its
    # legacy key, the mapping check its now dangling mapping, and the relationships test the
    # missing UUID.
    test_name, office_id, legacy_id, table_name = office_referenced_by(built)
    with built.dbs.target_admin() as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute("delete from public.offices where id = %s", (office_id,))
    code, doc, err = built.validate()
    assert code == 1
    assert "offices_parity_with_source" in doc["tests"]["names"]
    assert "offices_parity_with_source" in failing(doc), (doc["failing_tests"], legacy_id)
    parity = failing(doc)["offices_parity_with_source"]
    assert {"problem": "missing_in_target", "legacy_key": str(legacy_id)} in parity
    assert mapping_keys(doc, "dangling") == {legacy_id}
    assert "offices_parity_with_source" in err

    code, doc, err = built.validate("--select", test_name)
    assert code == 1
    assert doc["tests"]["run"] == 1
    keys = failing(doc)[test_name]
    assert {"from_field": office_id} in keys, (table_name, keys)
    assert test_name in err


def test_validate_rejects_an_unknown_entity(built: Built) -> None:
    out = built.diffmig("validate", "--entities", "nonsense")
    assert out.returncode == 3
    assert "nonsense" in out.stderr
