"""What the user reads after a run can be trusted (issue 22): `validate` proves the target after
a partial and a full run, and `detect` reports only the tables some entity syncs.

One pair for the module: a partial run (`--entities offices`) on the fresh destination, then a
full run, then a partial run again; the tests read the state each step leaves, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.sandbox import build
from tests.conftest import ClusterPair, DbPair, make_db_pair


@dataclass
class Pair:
    dbs: DbPair
    cwd: Path
    runs: list[int] = field(default_factory=list)

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

    def json(self, *args: str) -> tuple[int, dict[str, Any], str]:
        out = self.diffmig("--output", "json", *args)
        assert out.stdout, out.stderr
        return out.returncode, json.loads(out.stdout), out.stderr


@pytest.fixture(scope="module")
def pair(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    dbs = make_db_pair(clusters)
    cwd = tmp_path_factory.mktemp("after_runs")
    yield Pair(dbs, cwd)
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def failing_tests(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["test"], t["message"]) for t in doc["failing_tests"] if t["status"] != "warn"]


def test_validate_after_a_first_partial_run_proves_what_it_applied(pair: Pair) -> None:
    out = pair.diffmig("run", "--entities", "offices")
    assert out.returncode in (0, 1), out.stderr
    code, doc, err = pair.json("validate")
    assert failing_tests(doc) == [], err
    # Only offices' mapping types are checked; the offices the run added have no mapping yet
    # (the migration_mappings entity writes them, and it did not run).
    assert {e["entity_type"] for e in doc["mappings"]["entity_types"]} == {"office"}
    violations = {p["problem"] for p in doc["mappings"]["problems"]} - {"junk"}
    assert violations <= {"missing_mapping"}, doc["mappings"]["problems"]
    assert code == (1 if violations else 0), err
    # The entities no run applied yet are named, not tested against relations that do not exist.
    assert "offices" not in doc["not_applied"]
    assert "profiles" in doc["not_applied"]
    assert "not proven: " in err


def report_files(written: dict[str, Any] | None) -> dict[str, Path]:
    assert written is not None
    files = {kind: Path(path) for kind, path in written["files"].items()}
    assert sorted(files) == ["html", "json", "markdown"]
    for path in files.values():
        assert path.is_file(), path
    return files


def test_a_run_writes_its_report_first_what_needs_attention(pair: Pair) -> None:
    code, doc, err = pair.json("run")
    assert code in (0, 1), err
    files = report_files(doc["report"])
    assert f"report: {files['html']}" in err
    report = json.loads(files["json"].read_text(encoding="utf-8"))
    assert report["run"]["run_id"] == doc["run_id"]
    attention = report["attention"]
    reasons = [h["reason"] for h in attention["held_back"]]
    assert reasons, "the demo's data holds rows back (planted defects)"
    assert all(h["do"] for h in attention["held_back"])
    assert attention["drift_command"] == "diffmig run --reconcile"
    # The first section of the Markdown and the HTML: held-back reasons, drift and its command.
    markdown = files["markdown"].read_text(encoding="utf-8")
    first = markdown.split("\n## ")[1]
    assert first.startswith("Needs your attention")
    for reason in reasons:
        assert f"`{reason}`" in first
    if attention["drift"]:
        assert "`diffmig run --reconcile`" in first
    page = files["html"].read_text(encoding="utf-8")
    assert page.index('id="attention"') < page.index("<svg")
    assert "(log scale)" in page


def test_validate_after_a_full_run_has_no_failing_test(pair: Pair) -> None:
    # --full: every dbt test of what the runs build (by default validate proves only what
    # changed since the last proof, without dbt's tests: proofs.py).
    _, doc, err = pair.json("validate", "--full")
    # Every test of what the runs build runs and passes (before: the tests of four models no
    # entity builds failed with `relation ... does not exist`).
    assert failing_tests(doc) == [], err
    assert doc["not_applied"] == []
    assert "int_files_keyed" in doc["unbuilt_models"]
    assert not [n for n in doc["tests"]["names"] if "int_files_keyed" in n]
    assert doc["tests"]["run"] > 300


def test_validate_after_a_partial_run_that_follows_a_full_one(pair: Pair) -> None:
    out = pair.diffmig("run", "--entities", "offices")
    assert out.returncode in (0, 1), out.stderr
    _, doc, err = pair.json("validate", "--full")
    assert failing_tests(doc) == [], err
    assert doc["not_applied"] == []
    assert doc["tests"]["run"] > 300


def test_detect_after_runs_reports_only_what_a_run_syncs(pair: Pair) -> None:
    code, doc, err = pair.json("detect")
    assert code == 0, err
    tables = {t["table"]: t for t in doc["tables"]}
    # Every declared table is read by some entity (auth_group by teams since entity 19), so
    # every one is analysed and none is named unread.
    assert doc["unread_tables"] == []
    assert "auth_group" in tables
    assert "dispatch_office" in tables
    assert {name: t["new"] for name, t in tables.items() if t["new"]} == {}
    explicit = pair.json("detect", "--tables", "auth_group")[1]
    assert [t["table"] for t in explicit["tables"]] == ["auth_group"]
    assert explicit["unread_tables"] == []


def test_validate_names_the_earlier_scripts_conventions_apart_from_damage(pair: Pair) -> None:
    _, doc, err = pair.json("validate", "--full")
    mappings = doc["mappings"]
    # One finding per row, named for what it is (adr-0010), and no violation.
    assert mappings["conventions"]["patient_maps_to_profile"] > 0
    assert mappings["conventions"]["patient_profile_type"] > 0
    problems = {(p["entity_type"], p["problem"]) for p in mappings["problems"]}
    assert not {p for p in problems if p[0] in ("patient", "patient_profile")} - {
        ("patient", "patient_maps_to_profile"),
        ("patient_profile", "patient_profile_type"),
    }
    # What is left failing is real damage: the re-imported doctors' stale UUIDs (dangling).
    failing = {
        (p["entity_type"], p["problem"])
        for p in mappings["problems"]
        if p["problem"] not in ("junk", *mappings["conventions"])
    }
    assert failing <= {("doctor", "dangling")}, mappings["problems"]
    assert mappings["violations"] == sum(
        p["count"] for p in mappings["problems"] if (p["entity_type"], p["problem"]) in failing
    )
    # The dbt test agrees: the August 'patient' rows are no warning of patients_mapping_integrity.
    assert "patients_mapping_integrity" not in {t["test"] for t in doc["failing_tests"]}
    # Repaired, the proof passes.
    assert pair.diffmig("mappings", "repair", "--apply").returncode == 0
    code, doc, err = pair.json("validate")
    assert code == 0, (doc["mappings"]["problems"], failing_tests(doc), err)


def test_a_failed_run_writes_its_report(clusters: ClusterPair, tmp_path: Path) -> None:
    dbs = make_db_pair(clusters)
    try:
        failing = Pair(dbs, tmp_path)
        # The offices the run would add are refused by the destination: the entity fails.
        with dbs.target_admin() as conn:
            conn.execute(
                "alter table public.offices add constraint pytest_refuse check (false) not valid"
            )
        out = failing.diffmig("run", "--entities", "offices")
        err = out.stderr
        assert out.returncode == 4, err
        line = next(x for x in err.splitlines() if "report: " in x)
        html_path = Path(line.split("report: ", 1)[1].split(" ", 1)[0])
        for suffix in (".html", ".md", ".json"):
            assert html_path.with_suffix(suffix).is_file()
        report = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))
        assert report["run"]["status"] == "failed"
        assert report["attention"]["run"]["status"] == "failed"
        assert "pytest_refuse" in (report["attention"]["run"]["error"] or "")
        first = html_path.with_suffix(".md").read_text(encoding="utf-8").split("\n## ")[1]
        assert first.startswith("Needs your attention")
        assert "**The run failed**" in first
        assert "`diffmig run --resume`" in first
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)
