"""The issue catalogue (seeds/issue_reasons.csv) lists every reason a model can raise: the rule
of dbt's tests/dbt/assert_every_issue_reason_is_catalogued.sql, checked here on the files alone
(no database, no dbt), with the same scan of the models' code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.reasons import CATALOGUE, FALLBACK_MEANING, describe, load_reasons

ROOT = Path(__file__).resolve().parents[2]

# issue_when(<condition>, "<severity>", "<reason>", <detail>): the condition may span lines and
# hold commas and quotes, so the first severity and reason literals after it are the call's.
ISSUE_WHEN = re.compile(
    r"(?s)issue_when[(].*?,[ \t\r\n]*[\"'](error|warning)[\"'][ \t\r\n]*,[ \t\r\n]*"
    r"[\"']([a-z0-9_]+)[\"']"
)
MAPPED = re.compile(r"^int_([a-z0-9_]+)_mapped$")
# missing_parent_issue('<entity>', '<column>', "<reason>", ...): the severity is the reference's
# declaration on the mart's column (optional: warning; else error).
MISSING_PARENT = re.compile(
    r"missing_parent_issue[(][ \t\r\n]*[\"']([a-z0-9_]+)[\"'][ \t\r\n]*,[ \t\r\n]*"
    r"[\"']([a-z0-9_]+)[\"'][ \t\r\n]*,[ \t\r\n]*[\"']([a-z0-9_]+)[\"']"
)


def _reference_is_optional(mart: str, column: str, models: Path) -> bool:
    import yaml

    for path in models.rglob(f"{mart}.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models", []):
            for col in model.get("columns", []):
                if col.get("name") == column:
                    meta = (col.get("config") or {}).get("meta") or {}
                    return bool(meta.get("reference") == "optional")
    return False

Triple = tuple[str, str, str]


def raised_reasons(models: Path = ROOT / "models") -> set[Triple]:
    """(entity, reason, severity) of every issue a model raises; the entity is the mart an
    int_<entity>_mapped model feeds (any other model is named as it is)."""
    raised: set[Triple] = set()
    for path in sorted(models.rglob("*.sql")):
        code = path.read_text(encoding="utf-8")
        match = MAPPED.match(path.stem)
        entity = match.group(1) if match else path.stem
        raised |= {(entity, reason, severity) for severity, reason in ISSUE_WHEN.findall(code)}
        # entity_decision() raises the drift warning unless told drift=false, and with
        # deletion_reported=true the deletion warning (macros/entities/entity_pattern.sql)
        if "drift_issue(" in code or ("entity_decision(" in code and "drift=false" not in code):
            raised.add((entity, "drift", "warning"))
        if "duplicate_target_issue(" in code:
            raised.add((entity, "duplicate_target_rows", "warning"))
        if "deletion_reported=true" in code:
            raised.add((entity, "deleted_in_source", "warning"))
        for mart, column, reason in MISSING_PARENT.findall(code):
            optional = _reference_is_optional(mart, column, models)
            raised.add((mart, reason, "warning" if optional else "error"))
    return raised


def catalogued(path: Path) -> set[Triple]:
    return {(r.entity, r.reason, r.severity) for r in load_reasons(path).values()}


def uncatalogued(path: Path) -> set[Triple]:
    return raised_reasons() - catalogued(path)


def test_the_scan_finds_the_models_issues() -> None:
    raised = raised_reasons()
    assert ("offices", "tax_rate_out_of_range", "error") in raised
    assert ("offices", "drift", "warning") in raised
    assert ("case_files", "case_not_migrated", "error") in raised  # a condition over two lines
    assert ("treatment_plans", "duplicate_target_rows", "warning") in raised
    assert len({entity for entity, _, _ in raised}) == 38  # every mart's mapped model (entities 1 to 38)


def test_every_reason_a_model_raises_is_catalogued() -> None:
    assert uncatalogued(CATALOGUE) == set()


def test_the_catalogue_lists_only_reasons_a_model_raises() -> None:
    assert catalogued(CATALOGUE) - raised_reasons() == set()


def test_a_reason_removed_from_the_catalogue_is_found(tmp_path: Path) -> None:
    lines = CATALOGUE.read_text(encoding="utf-8").splitlines(keepends=True)
    [removed] = [line for line in lines if line.startswith("orders,patient_not_migrated,error,")]
    reduced = tmp_path / "issue_reasons.csv"
    reduced.write_text("".join(line for line in lines if line != removed), encoding="utf-8")
    assert uncatalogued(reduced) == {("orders", "patient_not_migrated", "error")}


def test_every_row_says_what_it_means_and_what_to_do() -> None:
    reasons = load_reasons(CATALOGUE)
    lines = CATALOGUE.read_text(encoding="utf-8").splitlines()
    assert len(reasons) == len(lines) - 1  # one row per (entity, reason)
    for reason in reasons.values():
        assert reason.severity in ("error", "warning"), reason
        for text in (reason.meaning, reason.what_to_do):
            assert text[0].isupper(), reason
            assert text.endswith("."), reason


@pytest.mark.parametrize("severity", ["error", "warning"])
def test_an_unknown_reason_gets_a_fallback_text(severity: str) -> None:
    described = describe("orders", "no_such_reason", severity)
    assert described.meaning == FALLBACK_MEANING
    assert described.what_to_do
    assert described.severity == severity


def test_a_catalogued_reason_is_described_in_its_own_words() -> None:
    described = describe("offices", "drift", "warning")
    assert "dispatch_office" in described.meaning
    assert "diffmig run --reconcile" in described.what_to_do
