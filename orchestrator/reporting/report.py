"""Run reports: Markdown, JSON and one self-contained HTML page with charts, in reports/.

Everything in a report is read back from the bookkeeping (runs, run_steps, build_results,
row_issues, retries, table_syncs) and from a baseline taken when the report is written, so the
numbers agree with the database. Fit for an audit: who ran it, against which databases (hosts,
never passwords), which mapping version (the git commit of the project, or a hash of its models,
macros and seeds).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator import db
from orchestrator.baseline import baseline_tables, run_baseline, stamp_last_migrated
from orchestrator.bookkeeping import builds, runs
from orchestrator.bookkeeping import schema as bookkeeping
from orchestrator.bookkeeping.baselines import (
    StoredBaseline,
    reusable_baseline,
    specs_digest,
    store_baseline,
)
from orchestrator.bookkeeping.issues import open_issue_summary
from orchestrator.bookkeeping.retries import retries_of
from orchestrator.bookkeeping.steps import step_records
from orchestrator.catalog import PROJECT_ROOT
from orchestrator.errors import UsageError
from orchestrator.marts import EntitySpec, entity_specs
from orchestrator.reasons import describe
from orchestrator.reporting import proofs
from orchestrator.settings import Settings, redact

REPORTS_DIR = PROJECT_ROOT / "reports"
ISSUE_KEYS_SHOWN = 50
ATTENTION_KEYS_SHOWN = 10
RECONCILE_COMMAND = "diffmig run --reconcile"


def attention(doc: dict[str, Any]) -> dict[str, Any]:
    """What needs the user's attention, for the report's first section: the run's failure (and
    how to continue it), the rows held back by reason with what to do, the drift left and the
    command that applies it, and the failed tests."""
    run = doc["run"]
    outcome = None
    if run["status"] != "succeeded":
        outcome = {
            "status": run["status"],
            "error": run["error"],
            "do": "fix the cause named in the error, then `diffmig run --resume` continues the "
            "run from its checkpoints"
            if run["status"] in ("failed", "interrupted", "paused")
            else "wait for it to end (`diffmig status --watch`)",
        }
    held: dict[tuple[str, str], dict[str, Any]] = {}
    drift: list[dict[str, Any]] = []
    for issue in doc["issues"]:
        if issue["severity"] == "error":
            # Per entity and reason: the catalogue says what it means and what to do.
            described = describe(issue["entity"], issue["reason"], issue["severity"])
            entry = held.setdefault(
                (issue["entity"], issue["reason"]),
                {
                    "reason": issue["reason"],
                    "rows": 0,
                    "entities": [issue["entity"]],
                    "keys": [],
                    "meaning": described.meaning,
                    "do": described.what_to_do,
                },
            )
            entry["rows"] += issue["rows"]
            entry["keys"] += [f"{issue['entity']} {k}" for k in issue["keys"]]
        elif issue["reason"] == "drift":
            drift.append({"entity": issue["entity"], "rows": issue["rows"]})
    held_back = sorted(held.values(), key=lambda e: (-e["rows"], e["reason"], e["entities"]))
    for entry in held_back:
        entry["keys"] = entry["keys"][:ATTENTION_KEYS_SHOWN]
    return {
        "run": outcome,
        "held_back": held_back,
        "drift": drift,
        "drift_rows": sum(d["rows"] for d in drift),
        "drift_command": RECONCILE_COMMAND,
        "failed_tests": [
            {"entity": t["entity"], "test": t["test"], "failures": t["failures"]}
            for t in doc["tests"]["failed"]
        ],
        "failed_tests_command": "diffmig validate",
        "clear": outcome is None and not held_back and not drift and not doc["tests"]["failed"],
    }


def mapping_version(root: Path = PROJECT_ROOT) -> str:
    """The git commit of the mapping (with +dirty), else a hash of its files."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "models", "macros", "seeds"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        return f"git {commit}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        digest = hashlib.sha256()
        for folder in ("models", "macros", "seeds"):
            for path in sorted((root / folder).rglob("*")):
                if path.is_file():
                    digest.update(path.read_bytes())
        return f"sha256 {digest.hexdigest()[:12]}"


def collect(
    settings: Settings, run_id: int | None = None, *, reuse_baseline: bool = False
) -> dict[str, Any]:
    """The report's document. `reuse_baseline`: the report of a run that just ended, which may
    reuse the last baseline when the run changed nothing it counts (bookkeeping/baselines.py)."""
    specs = entity_specs(settings)
    digest = specs_digest(specs)
    with db.connection(settings.target) as conn:
        bookkeeping.ensure_schema(conn)
        if run_id is None:
            run_id = runs.latest_run_id(conn)
        if run_id is None:
            raise UsageError("there is no run to report on yet", hint="run `diffmig run` first")
        run = runs.run_record(conn, run_id)
        if run is None:
            raise UsageError(
                f"there is no run {run_id}", hint="`diffmig status` shows the last one"
            )
        run_doc: dict[str, Any] = run._asdict()
        steps: list[dict[str, Any]] = [s._asdict() for s in step_records(conn, run_id)]
        issues = [i._asdict() for i in open_issue_summary(conn, ISSUE_KEYS_SHOWN)]
        flagged = [t._asdict() for t in builds.flagged_tests(conn, run_id)]
        passed = builds.tests_passed(conn, run_id)
        proved = proofs.collect(conn, run_id)
        retries = [
            {"step": r.step, "attempt": r.attempt, "cause": redact(r.cause), "at": r.at}
            for r in retries_of(conn, run_id)
        ]
        stored, why = (
            reusable_baseline(conn, run_id, digest, baseline_tables(specs))
            if reuse_baseline
            else (None, "")
        )
    baseline = _baseline(settings, specs, digest, stored)
    if why:
        baseline["not_reused"] = why
    by_entity = {b["entity"]: b for b in baseline["entities"]}
    for step in steps:
        b = by_entity.get(step["entity"], {})
        in_scope, missing = b.get("source_rows"), b.get("missing_in_target")
        step["source_rows_in_scope"] = in_scope
        step["migrated_in_scope"] = (
            in_scope - missing if in_scope is not None and missing is not None else None
        )
        step["success_rate"] = (
            round(step["migrated_in_scope"] / in_scope, 5)
            if in_scope and step["migrated_in_scope"] is not None
            else None
        )
        seconds = float(step["sync_seconds"] or 0) + float(step["build_seconds"] or 0)
        step["rows_per_s"] = round((step["rows_applied"] or 0) / seconds) if seconds else None
    rates = [s for s in steps if s["source_rows_in_scope"] and s["migrated_in_scope"] is not None]
    total_scope = sum(s["source_rows_in_scope"] for s in rates)
    total_migrated = sum(s["migrated_in_scope"] or 0 for s in rates)
    doc = {
        "report_written_at": datetime.now(timezone.utc).isoformat(),
        "mapping_version": mapping_version(),
        "run": run_doc,
        "entities": steps,
        "success_rate": round(total_migrated / total_scope, 5) if total_scope else None,
        "rows_in_scope": total_scope,
        "rows_migrated_in_scope": total_migrated,
        "issues": issues,
        "tests": {
            "passed": passed,
            "failed": [t for t in flagged if t["status"] != "warn"],
            "warned": [t for t in flagged if t["status"] == "warn"],
        },
        "retries": retries,
        "baseline": baseline,
        "proofs": proved,
    }
    # First in the document, as in the Markdown and the HTML.
    return {"attention": attention(doc), **doc}


def baseline_origin(baseline: dict[str, Any]) -> str:
    """Where the report's counts come from, in words."""
    reused = baseline.get("reused")
    if reused:
        return (
            f"counts of the baseline taken at {reused['taken_at']}, reused: no run since run "
            f"{reused['after_run']} changed anything they count"
        )
    why = f": {baseline['not_reused']}" if baseline.get("not_reused") else ""
    return f"counts of a baseline taken now ({_fmt(baseline.get('elapsed_s'))} s{why})"


def _baseline(
    settings: Settings, specs: list[EntitySpec], digest: str, stored: StoredBaseline | None
) -> dict[str, Any]:
    """The stored baseline, marked as reused, or a new one, stored for the next run's report."""
    if stored is not None:
        rows = list(stored.document["entities"])
        with db.connection(settings.target) as conn:
            stamp_last_migrated(conn, rows)
        return {
            **stored.document,
            "entities": rows,
            "reused": {"after_run": stored.after_run, "taken_at": stored.taken_at.isoformat()},
        }
    baseline = run_baseline(settings, specs)
    with db.connection(settings.target) as conn:
        store_baseline(conn, runs.latest_run_id(conn), digest, baseline)
    return baseline


def write_report(
    settings: Settings, run_id: int | None = None, out_dir: Path | None = None
) -> dict[str, Any]:
    """The run's report (the latest run's when `run_id` is None) as JSON, Markdown and HTML in
    `out_dir`, else DIFFMIG_REPORTS_DIR, else reports/ of the project. Files are named by run id
    only: two destinations need two directories, or one's run 2 replaces the other's."""
    return _write(collect(settings, run_id), _reports_dir(settings, out_dir))


def _reports_dir(settings: Settings, out_dir: Path | None) -> Path:
    """Where a report goes: `out_dir`, else DIFFMIG_REPORTS_DIR, else reports/ of the project."""
    return out_dir or settings.reports_dir or REPORTS_DIR


def _write(doc: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"run-{doc['run']['run_id']}"
    text = json.dumps(doc, indent=2, default=str, ensure_ascii=False)
    paths = {
        "json": stem.with_suffix(".json"),
        "markdown": stem.with_suffix(".md"),
        "html": stem.with_suffix(".html"),
    }
    paths["json"].write_text(redact(text), encoding="utf-8")
    paths["markdown"].write_text(redact(render_markdown(doc)), encoding="utf-8")
    paths["html"].write_text(redact(render_html(doc)), encoding="utf-8")
    return {
        "run_id": doc["run"]["run_id"],
        "files": {k: str(v) for k, v in paths.items()},
        "success_rate": doc["success_rate"],
    }


def write_run_report(
    settings: Settings, run_id: int, out_dir: Path | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """The report of a run that just ended, whatever its outcome (a failed run's is the most
    needed): (what write_report returns, None), or (None, why it could not be written) when
    the destination cannot be read; never raises, so the run's own outcome stays what the
    user sees."""
    try:
        doc = collect(settings, run_id, reuse_baseline=True)
        return _write(doc, _reports_dir(settings, out_dir)), None
    except Exception as exc:  # noqa: BLE001 - reported, never hiding the run's own outcome
        return None, redact(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def attention_markdown(att: dict[str, Any]) -> list[str]:
    """The report's first section: what needs the user's attention."""
    lines = ["## Needs your attention", ""]
    if att["clear"]:
        return [
            *lines,
            "Nothing: the run succeeded, no row is held back, no drift is left and "
            "every test passed.",
            "",
        ]
    if att["run"]:
        lines.append(
            f"- **The run {att['run']['status']}**: {att['run']['error'] or 'no error recorded'}."
            f" What to do: {att['run']['do']}."
        )
    if att["held_back"]:
        total = sum(h["rows"] for h in att["held_back"])
        lines.append(f"- **{total:,} rows held back** (not in the target), by reason:")
        for h in att["held_back"]:
            keys = ", ".join(h["keys"])
            lines.append(
                f"  - `{h['reason']}`: {h['rows']:,} rows ({', '.join(h['entities'])}; e.g. "
                f"{keys}). {h['meaning']} What to do: {h['do']}"
            )
    if att["drift"]:
        per = ", ".join(f"{d['entity']} {d['rows']:,}" for d in att["drift"])
        lines.append(
            f"- **{att['drift_rows']:,} rows drift** (the earlier scripts' copy differs from the "
            f"mapping: {per}); `{att['drift_command']}` applies the mapping to them."
        )
    if att["failed_tests"]:
        names = ", ".join(f"`{t['test']}` ({t['failures']} rows)" for t in att["failed_tests"])
        lines.append(
            f"- **{len(att['failed_tests'])} proofs failed**: {names}; "
            f"`{att['failed_tests_command']}` names the keys."
        )
    return [*lines, ""]


def render_markdown(doc: dict[str, Any]) -> str:
    run = doc["run"]
    lines = [
        f"# diffmig run {run['run_id']}: {run['status']}",
        "",
        *attention_markdown(doc["attention"]),
        "## Run",
        "",
        f"- command: `{run['command']}` ({run['mode'] or '-'} mode), transport {run['transport']}",
        f"- run by {run['invoked_by']}, {run['started_at']} to {run['finished_at']}",
        f"- source: {run['source']}",
        f"- target: {run['target']}",
        f"- mapping version: {doc['mapping_version']}",
        f"- schema-cache reloads of the destination's API (NOTIFY pgrst, any session, during "
        f"the run): {_fmt(run['schema_reloads']) or 'not measured'}",
        f"- success rate (migrated / in scope): {_fmt(doc['success_rate'])} "
        f"({_fmt(doc['rows_migrated_in_scope'])} of {_fmt(doc['rows_in_scope'])}); "
        f"{baseline_origin(doc['baseline'])}",
        f"- dbt tests: {doc['tests']['passed']} passed, {len(doc['tests']['failed'])} failed, "
        f"{len(doc['tests']['warned'])} warned",
        "",
        "## Entities",
        "",
        "| entity | status | new | modified | deleted | applied | held back | before | after "
        "| in scope | migrated | rate | sync s | build s | rows/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in doc["entities"]:
        lines.append(
            "| "
            + " | ".join(
                _fmt(s[k])
                for k in (
                    "entity",
                    "phase",
                    "rows_new",
                    "rows_modified",
                    "rows_deleted",
                    "rows_applied",
                    "rows_held_back",
                    "target_rows_before",
                    "target_rows_after",
                    "source_rows_in_scope",
                    "migrated_in_scope",
                    "success_rate",
                    "sync_seconds",
                    "build_seconds",
                    "rows_per_s",
                )
            )
            + " |"
        )
    lines += ["", "## Row-level issues (open)", ""]
    if not doc["issues"]:
        lines.append("None.")
    for issue in doc["issues"]:
        keys = ", ".join(issue["keys"])
        more = " ..." if issue["rows"] > len(issue["keys"]) else ""
        lines.append(
            f"- **{issue['entity']}** {issue['severity']} `{issue['reason']}`: "
            f"{issue['rows']:,} rows (legacy keys {keys}{more})"
        )
    lines += ["", "## Failed tests (foreign keys, parity, mappings)", ""]
    lines += [
        f"- {t['entity']}: `{t['test']}` ({t['failures']} rows)" for t in doc["tests"]["failed"]
    ] or ["None."]
    lines += proofs.markdown(doc.get("proofs", []))
    lines += ["", "## Retries", ""]
    lines += [
        f"- {r['at']}: {r['step']} attempt {r['attempt']}: {r['cause']}" for r in doc["retries"]
    ] or ["None."]
    return "\n".join(lines) + "\n"


def _bars(
    title: str,
    series: list[tuple[str, list[tuple[str, float]]]],
    colors: list[str],
    decimals: int = 0,
) -> str:
    """A grouped horizontal bar chart as inline SVG (no scripts, no external files). Values are
    shown with `decimals` places (seconds need them: most phases take well under one). Bars are
    on a log scale (log10 of 1 + value), so an entity with a thousand times the rows of another
    still shows both; every bar carries its number."""
    labels = [label for label, _ in series]
    values = [v for _, group in series for _, v in group]
    top = math.log10(1 + max(values or [0])) or 1.0
    title = f"{title} (log scale)"
    row_h, bar_h, left, width = 18 * max(1, len(series[0][1]) if series else 1) + 8, 14, 150, 460
    height = 30 + row_h * len(labels) + 20
    parts = [
        f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{left + width + 90}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" class="title">{html.escape(title)}</text>',
    ]
    for i, (label, group) in enumerate(series):
        y0 = 30 + i * row_h
        parts.append(f'<text x="0" y="{y0 + 12}" class="label">{html.escape(label)}</text>')
        for j, (name, value) in enumerate(group):
            w = max(1.0, width * math.log10(1 + value) / top) if value > 0 else 0
            y = y0 + j * (bar_h + 2)
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colors[j % len(colors)]}"><title>{html.escape(name)}: {value:,.{decimals}f}</title></rect>'
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{y + 11}" class="value">{value:,.{decimals}f}</text>'
            )
    legend = " ".join(
        f'<tspan fill="{colors[j % len(colors)]}">&#9632; {html.escape(name)}</tspan>'
        for j, (name, _) in enumerate(series[0][1] if series else [])
    )
    parts.append(f'<text x="{left}" y="{height - 4}" class="legend">{legend}</text></svg>')
    return "".join(parts)


def attention_html(att: dict[str, Any]) -> str:
    """The report's first section in HTML (the same items as attention_markdown)."""
    e = html.escape
    if att["clear"]:
        items = [
            "<li>Nothing: the run succeeded, no row is held back, no drift is left and "
            "every test passed.</li>"
        ]
    else:
        items = []
    if att["run"]:
        items.append(
            f"<li><strong>The run {e(att['run']['status'])}</strong>: "
            f"{e(att['run']['error'] or 'no error recorded')}. What to do: {e(att['run']['do'])}."
            "</li>"
        )
    if att["held_back"]:
        total = sum(h["rows"] for h in att["held_back"])
        reasons = "".join(
            f"<li><code>{e(h['reason'])}</code>: {h['rows']:,} rows "
            f"({e(', '.join(h['entities']))}; e.g. {e(', '.join(h['keys']))}). "
            f"{e(h['meaning'])} What to do: {e(h['do'])}</li>"
            for h in att["held_back"]
        )
        items.append(
            f"<li><strong>{total:,} rows held back</strong> (not in the target), by reason:"
            f"<ul>{reasons}</ul></li>"
        )
    if att["drift"]:
        per = ", ".join(f"{d['entity']} {d['rows']:,}" for d in att["drift"])
        items.append(
            f"<li><strong>{att['drift_rows']:,} rows drift</strong> (the earlier scripts' copy "
            f"differs from the mapping: {e(per)}); <code>{e(att['drift_command'])}</code> applies "
            "the mapping to them.</li>"
        )
    if att["failed_tests"]:
        names = ", ".join(
            f"<code>{e(t['test'])}</code> ({t['failures']} rows)" for t in att["failed_tests"]
        )
        items.append(
            f"<li><strong>{len(att['failed_tests'])} proofs failed</strong>: {names}; "
            f"<code>{e(att['failed_tests_command'])}</code> names the keys.</li>"
        )
    return (
        f'<section id="attention"><h2>Needs your attention</h2><ul>{"".join(items)}</ul></section>'
    )


def render_html(doc: dict[str, Any]) -> str:
    run = doc["run"]
    entities = doc["entities"]
    counts_chart = _bars(
        "Target rows before and after",
        [
            (
                s["entity"],
                [
                    ("before", float(s["target_rows_before"] or 0)),
                    ("after", float(s["target_rows_after"] or 0)),
                ],
            )
            for s in entities
        ],
        ["#9aa5b1", "#2f6fb0"],
    )
    changes_chart = _bars(
        "Changes found in the source (new / modified / deleted)",
        [
            (
                s["entity"],
                [
                    ("new", float(s["rows_new"] or 0)),
                    ("modified", float(s["rows_modified"] or 0)),
                    ("deleted", float(s["rows_deleted"] or 0)),
                ],
            )
            for s in entities
        ],
        ["#2e8b57", "#d9a400", "#c0392b"],
    )
    time_chart = _bars(
        "Seconds per phase",
        [
            (
                s["entity"],
                [
                    ("sync", float(s["sync_seconds"] or 0)),
                    ("build", float(s["build_seconds"] or 0)),
                ],
            )
            for s in entities
        ],
        ["#6c5ce7", "#00a8a8"],
        decimals=2,
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_fmt(s[k]))}</td>"
            for k in (
                "entity",
                "phase",
                "rows_new",
                "rows_modified",
                "rows_deleted",
                "rows_applied",
                "rows_held_back",
                "source_rows_in_scope",
                "migrated_in_scope",
                "success_rate",
                "rows_per_s",
            )
        )
        + "</tr>"
        for s in entities
    )
    issues = (
        "".join(
            f"<tr><td>{html.escape(i['entity'])}</td><td class=text>{i['severity']}</td>"
            f"<td class=text>{html.escape(i['reason'])}</td>"
            f"<td>{i['rows']:,}</td><td class=text>{html.escape(', '.join(i['keys']))}</td></tr>"
            for i in doc["issues"]
        )
        or "<tr><td colspan=5>None</td></tr>"
    )
    tests = (
        "".join(
            f"<li>{html.escape(t['entity'])}: <code>{html.escape(t['test'])}</code> ({t['failures']} rows)</li>"
            for t in doc["tests"]["failed"]
        )
        or "<li>None</li>"
    )
    retries = (
        "".join(
            f"<li>{html.escape(str(r['at']))}: {html.escape(r['step'])} attempt {r['attempt']}: "
            f"{html.escape(r['cause'])}</li>"
            for r in doc["retries"]
        )
        or "<li>None</li>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diffmig run {run["run_id"]}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 14px; }}
td, th {{ border: 1px solid #cbd2d9; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child, td.text, th.text {{ text-align: left; }}
.chart {{ display: block; margin: 1rem 0; }} .chart .title {{ font-weight: 600; font-size: 14px; }}
.chart .label, .chart .value, .chart .legend {{ font-size: 12px; }}
.status-succeeded {{ color: #2e8b57; }} .status-failed {{ color: #c0392b; }}
</style></head><body>
<h1>diffmig run {run["run_id"]}: <span class="status-{html.escape(str(run["status"]))}">{html.escape(str(run["status"]))}</span></h1>
{attention_html(doc["attention"])}
<h2>Run</h2>
<ul>
<li>{html.escape(str(run["command"]))} ({html.escape(str(run["mode"]))} mode), transport {html.escape(str(run["transport"]))}</li>
<li>run by {html.escape(str(run["invoked_by"]))}, {html.escape(str(run["started_at"]))} to {html.escape(str(run["finished_at"]))}</li>
<li>source: {html.escape(str(run["source"]))}</li><li>target: {html.escape(str(run["target"]))}</li>
<li>mapping version: {html.escape(doc["mapping_version"])}</li>
<li>schema-cache reloads of the destination's API (NOTIFY pgrst, any session, during the run): {html.escape(_fmt(run["schema_reloads"]) or "not measured")}</li>
<li>success rate (migrated / in scope): {html.escape(_fmt(doc["success_rate"]))}
 ({html.escape(_fmt(doc["rows_migrated_in_scope"]))} of {html.escape(_fmt(doc["rows_in_scope"]))}); {html.escape(baseline_origin(doc["baseline"]))}</li>
<li>dbt tests: {doc["tests"]["passed"]} passed, {len(doc["tests"]["failed"])} failed, {len(doc["tests"]["warned"])} warned</li>
</ul>
{counts_chart}{changes_chart}{time_chart}
<h2>Entities</h2>
<table><tr><th>entity</th><th>status</th><th>new</th><th>modified</th><th>deleted</th><th>applied</th>
<th>held back</th><th>in scope</th><th>migrated</th><th>rate</th><th>rows/s</th></tr>{rows}</table>
<h2>Row-level issues (open)</h2>
<table><tr><th>entity</th><th class=text>severity</th><th class=text>reason</th><th>rows</th><th class=text>legacy keys (first {ISSUE_KEYS_SHOWN})</th></tr>{issues}</table>
<h2>Failed tests</h2><ul>{tests}</ul>
{proofs.html_section(doc.get("proofs", []))}
<h2>Retries</h2><ul>{retries}</ul>
</body></html>
"""
