"""The report's section on what a run proved (proofs.py, ADR 0011): per entity, whether its proof
was full (and why), a delta or the rotating slice only; the ledger buckets its change touched, the
slice's, the ledger's size; its failures; the age of the entity's last full proof."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

import psycopg

from orchestrator.bookkeeping import ledger


def collect(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    return [
        {
            **asdict(p),
            "last_full_age_h": None if p.full_age_s is None else round(p.full_age_s / 3600, 1),
        }
        for p in ledger.run_proofs(conn, run_id)
    ]


def _line(p: dict[str, Any]) -> str:
    age = (
        "never"
        if p["last_full_run"] is None
        else (f"run {p['last_full_run']}, {p['last_full_age_h']} h ago")
    )
    return (
        f"{p['entity']}: {p['scope']} ({p['reason']}); buckets touched {p['touched_buckets']}, "
        f"slice {p['slice_buckets']}, ledger {p['ledger_buckets']}; failures {p['failures']}; "
        f"last full proof {age}"
    )


def markdown(proofs: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## What this run proved", ""]
    return lines + ([f"- {_line(p)}" for p in proofs] or ["Nothing (no entity proven)."])


def html_section(proofs: list[dict[str, Any]]) -> str:
    items = "".join(f"<li>{html.escape(_line(p))}</li>" for p in proofs)
    return f"<h2>What this run proved</h2><ul>{items or '<li>Nothing.</li>'}</ul>"
