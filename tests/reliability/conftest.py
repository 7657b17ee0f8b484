"""The reliability suite: what diffmig survives (crashes, outages, failing destinations,
concurrent writers, hostile data, corrupted bookkeeping, secrets, load).

Runs in CI at a small scale; `pytest tests/reliability --scale 1.0` is the full version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_SCALE


@pytest.fixture(scope="session")
def reliability_scale(request: pytest.FixtureRequest) -> float:
    """The scale the suite runs at: `--scale`, else the session templates' scale."""
    scale = request.config.getoption("--scale")
    return float(scale) if scale is not None else TEST_SCALE


FIGURES_DIR = Path(__file__).parent / "figures"

RecordFigures = Callable[[str, dict[str, Any]], None]


@pytest.fixture
def record_figures(request: pytest.FixtureRequest, reliability_scale: float) -> RecordFigures:
    """`record_figures(name, {...})`: print a test's figures and append them, as one JSON object
    per call, to tests/reliability/figures/<module>.json (one file per test module, so modules
    written by different people never write the same file)."""
    module = request.node.module.__name__.rsplit(".", 1)[-1]

    def record(name: str, figures: dict[str, Any]) -> None:
        entry = {
            "test": request.node.name,
            "name": name,
            # A module that runs on the session's templates whatever --scale says passes its own.
            "scale": figures.get("scale", reliability_scale),
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "figures": figures,
        }
        print(f"\nFIGURES {module}:{name} " + json.dumps(figures, default=str, sort_keys=True))
        FIGURES_DIR.mkdir(exist_ok=True)
        path = FIGURES_DIR / f"{module}.json"
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = []
        if not isinstance(existing, list):
            existing = []
        existing.append(entry)
        path.write_text(json.dumps(existing, indent=2, default=str) + "\n", encoding="utf-8")

    return record
