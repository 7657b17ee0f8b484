"""README is the user's guide; figures live in generated tables (issue 22, point 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.tables import benchmark_table, flatten, reliability_table

ROOT = Path(__file__).resolve().parents[2]
# A measured duration typed into prose: '4 min 32 s', '20 min 41 s', '249.2 s', 'took 9 to 10 minutes'.
TIMING = re.compile(r"\b\d+ min \d+ s\b|\b\d+\.\d+ s\b|\btook [^.]*\bminutes\b")


def test_readme_has_the_user_guide_sections_and_no_measurement_log() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    for wanted in (
        "Two commands",
        "Commands",
        "How it works",
        "Configuration",
        "Where to read more",
    ):
        assert wanted in headings
    assert "### Exit codes" in text
    assert not TIMING.findall(text)
    assert "CI time" not in text


def test_no_hand_typed_timings_in_the_docs_that_replaced_it() -> None:
    for path in ("docs/reliability.md", "benchmarks/README.md"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert not TIMING.findall(text), path


def test_tables_copy_every_figure_from_the_results_files(tmp_path: Path) -> None:
    assert flatten({"a": {"b": 1.5, "c": [1, 2]}, "d": [{"e": "x"}]}) == [
        ("a.b", "1.5"),
        ("a.c", "1, 2"),
        ("d[0].e", "x"),
    ]
    results = tmp_path / "results"
    results.mkdir()
    (results / "run-1.json").write_text(json.dumps({"phases": {"b": {"wall_s": 12.25}}}))
    table = benchmark_table(results)
    assert "## run-1" in table
    assert "| phases.b.wall_s | 12.25 |" in table
    figures = tmp_path / "figures"
    figures.mkdir()
    entry = {"test": "t", "name": "n", "scale": 0.01, "at": "2026-12-04", "figures": {"kills": 7}}
    (figures / "test_crash.json").write_text(
        json.dumps([entry, {**entry, "figures": {"kills": 8}}])
    )
    table = reliability_table(figures)
    assert "| t | n | 0.01 | 2026-12-04 | kills | 8 |" in table  # the last entry only
    assert "| kills | 7 |" not in table
    assert "No figures file yet" in reliability_table(tmp_path / "none")
