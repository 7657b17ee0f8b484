"""`diffmig schema diff` on the sandbox pair through the real CLI: the column the sandbox's activity
added (dispatch_office.email) is found against the mapping and recommended for offices.email; a
second run finds nothing new against the saved snapshot; narrowing type changes exit 1. Plus the
type rules and the mapping's lineage, without a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.catalog import declared_tables
from orchestrator.schema_diff import narrowing
from orchestrator.sql_lineage import Project
from tests.conftest import DbPair

_OWN_PREFIXES = ("SOURCE_", "TARGET_", "DIFFMIG_", "SUPABASE_")


def diffmig(dbs: DbPair, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    environ.update(dbs.env())
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def snapshot_count(dbs: DbPair) -> int:
    with dbs.target_tool() as conn:
        if conn.execute("select to_regclass('diffmig.schema_snapshots')").fetchone()[0] is None:
            return 0
        return int(conn.execute("select count(*) from diffmig.schema_snapshots").fetchone()[0])


def change(report: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [c for c in report["changes"] if all(c.get(k) == v for k, v in match.items())]


def test_finds_the_new_office_email_and_recommends_mapping_it(
    db_pair: DbPair, tmp_path: Path
) -> None:
    # A first sync fills the mirror, email included: the diff must not take the mirror as the
    # basis (it compares with the mapping and the snapshots).
    synced = diffmig(db_pair, tmp_path, "sync", "--transport", "copy", "--output", "json")
    assert synced.returncode == 0, synced.stderr

    notes = tmp_path / "docs" / "schema-notes.md"
    first = diffmig(db_pair, tmp_path, "schema", "diff", "--notes", str(notes), "--output", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    email = change(report, side="source", table="dispatch_office", column="email")
    assert len(email) == 1
    assert email[0]["kind"] == "new_column"
    assert email[0]["basis"] == "mapping"
    assert email[0]["data_loss"] is False
    assert report["unmapped_columns"] == {"dispatch_office": ["email"]}
    recommendation = [r for r in report["recommendations"] if r["column"] == "email"]
    assert recommendation == [
        {
            "table": "dispatch_office",
            "column": "email",
            "action": "map",
            "target": "offices.email",
            "detail": recommendation[0]["detail"],
        }
    ]
    assert "dispatch_office.email -> offices.email" in recommendation[0]["detail"]
    assert report["data_loss"] is False
    assert report["source"]["previous_snapshot"] is None
    assert report["source"]["saved_snapshot"] is not None
    assert report["target"]["saved_snapshot"] is not None
    assert snapshot_count(db_pair) == 2

    # The notes: the date, the change, the recommendation, and per app table its lineage.
    text = notes.read_text(encoding="utf-8")
    assert report["generated_at"] in text
    assert "dispatch_office.email" in text
    assert "### offices (mapped from `dispatch_office`)" in text
    assert "| apartment | text | yes | `dispatch_office.apt` |" in text
    assert "| email | text | yes | not written by the mapping (app-owned) |" in text
    for secret in (db_pair.pair.legacy_app_password, db_pair.pair.target_tool_password):
        assert secret not in text
        assert secret not in first.stdout + first.stderr

    # Against the snapshot just saved: nothing new (email stays unmapped, against the mapping).
    second = diffmig(db_pair, tmp_path, "schema", "diff", "--notes", str(notes), "--output", "json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert change(again, basis="snapshot") == []
    assert again["source"]["previous_snapshot"]["snapshot_id"] == report["source"]["saved_snapshot"]
    assert again["target"]["previous_snapshot"]["snapshot_id"] == report["target"]["saved_snapshot"]
    assert [c["column"] for c in change(again, basis="mapping")] == ["email"]
    assert snapshot_count(db_pair) == 4

    human = diffmig(db_pair, tmp_path, "schema", "diff", "--no-write")
    assert human.returncode == 0, human.stderr
    assert "offices.email" in human.stdout
    assert "0 against the snapshots" in human.stderr


def test_narrowing_type_changes_can_lose_data(db_pair: DbPair, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    baseline = diffmig(db_pair, tmp_path, "schema", "diff", "--notes", str(notes))
    assert baseline.returncode == 0, baseline.stderr
    written = notes.read_text(encoding="utf-8")
    with db_pair.legacy_admin() as conn:
        conn.execute(
            "alter table dispatch_patient alter column suffix type varchar(4) using left(suffix, 4)"
        )
        conn.execute("alter table dispatch_office add column fax varchar(40)")
        conn.commit()
    with db_pair.target_admin() as conn:
        conn.execute("alter table public.offices alter column tax_rate type numeric(4,2)")
        conn.commit()

    proc = diffmig(db_pair, tmp_path, "schema", "diff", "--no-write", "--output", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["data_loss"] is True
    suffix = change(report, side="source", table="dispatch_patient", column="suffix")
    assert len(suffix) == 1
    assert suffix[0]["kind"] == "retyped_column"
    assert suffix[0]["basis"] == "snapshot"
    assert suffix[0]["data_loss"] is True
    assert suffix[0]["severity"] == "warning"
    assert suffix[0]["old"] == "character varying(10)"
    assert suffix[0]["new"] == "character varying(4)"
    tax = change(report, side="target", table="offices", column="tax_rate")
    assert len(tax) == 1
    assert tax[0]["data_loss"] is True
    # A new column with no namesake in offices: keep it in the metadata (or ignore it).
    fax = [r for r in report["recommendations"] if r["column"] == "fax"]
    assert len(fax) == 1
    assert fax[0]["action"] == "metadata"
    assert fax[0]["target"] == "offices.metadata.legacy.fax"
    assert "can lose data" in proc.stderr
    assert "dispatch_patient.suffix" in proc.stderr
    # --no-write: no snapshot saved, the notes untouched.
    assert snapshot_count(db_pair) == 2
    assert notes.read_text(encoding="utf-8") == written


# --- without a database ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "lossy"),
    [
        ("character varying(10)", "character varying(4)", True),
        ("character varying(4)", "character varying(10)", False),
        ("character varying(10)", "text", False),
        ("text", "character varying(255)", True),
        ("character varying", "character varying(20)", True),
        ("numeric(10,2)", "numeric(10,1)", True),
        ("numeric(10,2)", "numeric(8,2)", True),
        ("numeric(7,4)", "numeric(9,4)", False),
        ("numeric", "numeric(12,2)", True),
        ("numeric(12,2)", "numeric", False),
        ("bigint", "integer", True),
        ("integer", "bigint", False),
        ("integer", "numeric(8,0)", True),
        ("numeric(10,2)", "integer", True),
        ("timestamp with time zone", "timestamp without time zone", True),
        ("timestamp without time zone", "timestamp with time zone", False),
        ("timestamp with time zone", "date", True),
        ("date", "timestamp with time zone", False),
        ("double precision", "real", True),
        ("integer", "text", False),
        ("text", "jsonb", True),
        ("jsonb", "text", False),
        ("integer[]", "integer", True),
    ],
)
def test_type_changes_that_can_lose_data(old: str, new: str, lossy: bool) -> None:
    assert (narrowing(old, new) is not None) is lossy


def test_lineage_from_the_dbt_models() -> None:
    project = Project()
    columns = {
        "dispatch_office": {
            "id", "name", "address", "apt", "city", "state", "zip", "phone", "tax_rate",
            "valid", "sq_customer_id", "emails", "country", "email",
        },
    }  # fmt: skip
    project.use_source_columns(columns)
    assert project.used_source_columns()["dispatch_office"] == columns["dispatch_office"] - {
        "email"
    }
    assert project.lineage("offices", "apartment") == {("dispatch_office", "apt")}
    assert project.lineage("offices", "zip_code") == {("dispatch_office", "zip")}
    assert project.lineage("offices", "legacy_office_id") == {("dispatch_office", "id")}
    assert project.main_legacy_table("offices") == "dispatch_office"
    written = project.mart_columns("offices")
    assert written is not None
    assert "email" not in written
    assert {"name", "tax_rate", "legacy_office_id", "metadata"} <= set(written)
    # A column the staging model selects and the source dropped is found.
    project.use_source_columns({"dispatch_office": columns["dispatch_office"] - {"apt"}})
    assert project.missing_source_columns()["dispatch_office"] == {"apt"}
    assert {t.name for t in declared_tables()} >= {"dispatch_office", "dispatch_patient"}
