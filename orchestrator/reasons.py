"""The catalogue of row issue reasons (seeds/issue_reasons.csv, also loaded by dbt into
diffmig_codes.issue_reasons): for each reason an entity's mapping can raise, what it means and
what to do about it. The report and the run's log say it in these words; a reason the catalogue
lacks (dbt's assert_every_issue_reason_is_catalogued fails on it) gets a fallback text."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orchestrator.project_index import PROJECT_ROOT

CATALOGUE = PROJECT_ROOT / "seeds" / "issue_reasons.csv"
COLUMNS = ("entity", "reason", "severity", "meaning", "what_to_do")

# Sentences, as the catalogue's texts are.
FALLBACK_MEANING = (
    "Not in the issue catalogue (seeds/issue_reasons.csv): its detail says what it is."
)
FALLBACK_WHAT_TO_DO = {
    "error": "Fix the legacy row (keys listed); the row is retried every run and lands in the "
    "run after the fix.",
    "warning": "Nothing needed unless its detail says the value is wrong; then fix the legacy "
    "row and the next `diffmig run` picks it up.",
}


@dataclass(frozen=True)
class Reason:
    """One row of the catalogue: a reason an entity's mapping raises, with its severity (error:
    the row is held back and retried every run; warning: applied with a caveat)."""

    entity: str
    reason: str
    severity: str
    meaning: str
    what_to_do: str


@lru_cache(maxsize=4)
def load_reasons(path: Path = CATALOGUE) -> dict[tuple[str, str], Reason]:
    """The catalogue by (entity, reason); empty when the file is not there (a fallback text
    then stands for every reason)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        msg = f"{path}: the columns must be {', '.join(COLUMNS)}, got {reader.fieldnames}"
        raise ValueError(msg)
    return {
        (row["entity"], row["reason"]): Reason(**{column: row[column] for column in COLUMNS})
        for row in reader
    }


def describe(entity: str, reason: str, severity: str, path: Path = CATALOGUE) -> Reason:
    """The catalogue's row for an entity's reason, or a fallback saying it is not catalogued."""
    found = load_reasons(path).get((entity, reason))
    if found is not None:
        return found
    return Reason(
        entity=entity,
        reason=reason,
        severity=severity,
        meaning=FALLBACK_MEANING,
        what_to_do=FALLBACK_WHAT_TO_DO.get(severity, FALLBACK_WHAT_TO_DO["error"]),
    )
