"""The HTML run report and the dbt docs site, opened in a real headless Chromium.

One migration run (`MigrationRun`, as `diffmig run --entities offices,products,profiles` runs it)
on a clone of the test databases feeds both tests: the report written from it must render (title,
per-entity table, three SVG charts with one bar per entity and series), agree with the database
(diffmig's bookkeeping, the baseline and the app tables' row counts) and log no console error;
`dbt docs generate` against the same destination must give a site whose `offices` page shows the
mart's description and whose lineage graph draws every node from the legacy table to the mart.

Screenshots are saved in the tests' tmp directory; their paths are printed and recorded as test
properties (`screenshot_*`, in JUnit XML). Chromium is Debian's (tests/integration/browser.py):
without it these tests fail, saying what to install.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg.sql
import pytest

from orchestrator import dbt_runner
from orchestrator.baseline import run_baseline
from orchestrator.bookkeeping.schema import SCHEMA
from orchestrator.dbt_runner import DbtProject
from orchestrator.reporting.report import write_report
from orchestrator.runner import MigrationRun
from orchestrator.sandbox import build
from orchestrator.settings import Settings, load_settings
from tests.conftest import ClusterPair, DbPair, make_db_pair
from tests.integration.browser import Browser, chromium, find_chromium, serve_directory

# The first two entities in dependency order: a real run with every phase, kept short (each
# entity's dbt build costs seconds on two busy cores; the dbt parse costs more).
ENTITIES = ["offices", "products"]
# The report's charts, in page order: (title, series per entity). Log scale, so that an entity
# with a thousand times the rows of another still shows both (issue 22); each bar has its number.
CHARTS = [
    ("Target rows before and after (log scale)", ["before", "after"]),
    (
        "Changes found in the source (new / modified / deleted) (log scale)",
        ["new", "modified", "deleted"],
    ),
    ("Seconds per phase (log scale)", ["sync", "build"]),
]
TABLE_COLUMNS = [
    "entity",
    "status",
    "new",
    "modified",
    "deleted",
    "applied",
    "held back",
    "in scope",
    "migrated",
    "rate",
    "rows/s",
]


@dataclass
class Migrated:
    dbs: DbPair
    settings: Settings
    project: DbtProject  # the run's own, parsed once: the docs test reuses its manifest
    run_id: int
    status: str
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def migrated(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    find_chromium()  # fail before the run, not after it, when there is no browser
    dbs = make_db_pair(clusters)
    dbt_dir = tmp_path_factory.mktemp("browser_dbt")
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    projects: list[DbtProject] = []

    class OwnPaths(DbtProject):
        """The run's dbt target and logs in the test's tmp dir, not the checkout's target/
        (shared with whoever else runs dbt in this checkout)."""

        def __init__(self, settings: Settings, **kwargs: Any) -> None:
            kwargs.setdefault("target_path", dbt_dir / "target")
            kwargs.setdefault("log_path", dbt_dir / "logs")
            super().__init__(settings, **kwargs)
            projects.append(self)

    try:
        started = time.monotonic()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(dbt_runner, "DbtProject", OwnPaths)
            outcome = MigrationRun(settings, entities=ENTITIES).execute()
        assert outcome.status == "succeeded", outcome.as_dict()
        assert [e.entity for e in outcome.entities] == ENTITIES
        assert len(projects) == 1, projects
        yield Migrated(
            dbs,
            settings,
            projects[0],
            outcome.run_id,
            outcome.status,
            {"run": time.monotonic() - started},
        )
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)


@pytest.fixture(scope="module")
def browser(migrated: Migrated) -> Iterator[Browser]:
    with chromium(1280, 900) as b:
        yield b


def attach(name: str, path: Path, record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Put a screenshot's path in the test output (and the JUnit XML)."""
    record_property(f"screenshot_{name}", str(path))
    with capsys.disabled():
        print(f"\n  screenshot ({name}): {path}")


def number(text: str) -> int | None:
    text = text.strip()
    return int(text.replace(",", "")) if text else None


# What the report page shows, read from the live DOM.
READ_REPORT = """
const text = e => e.textContent.replace(/\\s+/g, ' ').trim();
const h2 = name => Array.from(document.querySelectorAll('h2')).find(h => text(h) === name);
const tableAfter = h => {
  let e = h.nextElementSibling;
  while (e && e.tagName !== 'TABLE') e = e.nextElementSibling;
  return Array.from(e.rows).map(r => Array.from(r.cells).map(text));
};
const charts = Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  return {
    title: text(svg.querySelector('text.title')),
    width: box.width, height: box.height,
    labels: Array.from(svg.querySelectorAll('text.label')).map(text),
    legend: Array.from(svg.querySelectorAll('text.legend tspan')).map(t => text(t).replace(/^\\W+/, '')),
    bars: Array.from(svg.querySelectorAll('rect')).map(r => ({
      title: text(r.querySelector('title')),
      width: r.getBoundingClientRect().width,
      height: r.getBoundingClientRect().height,
      fill: r.getAttribute('fill'),
    })),
    values: Array.from(svg.querySelectorAll('text.value')).map(text),
  };
});
return {
  h1: text(document.querySelector('h1')),
  facts: Array.from(document.querySelectorAll('body > ul:first-of-type > li')).map(text),
  entities: tableAfter(h2('Entities')),
  issues: tableAfter(h2('Row-level issues (open)')),
  charts: charts,
  external: performance.getEntriesByType('resource').map(r => r.name),
};
"""


def test_report_renders_and_agrees_with_the_database(
    migrated: Migrated,
    browser: Browser,
    tmp_path: Path,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    written = write_report(migrated.settings, migrated.run_id, out_dir=tmp_path / "reports")
    page_file = Path(written["files"]["html"])
    assert page_file.name == f"run-{migrated.run_id}.html"

    browser.severe_console()  # start from an empty console log
    browser.open(page_file.as_uri())
    browser.wait_for("return document.readyState === 'complete'", message="the report to load")
    assert browser.driver.title == f"diffmig run {migrated.run_id}"
    shot = browser.screenshot(tmp_path / "report.png", full_page=True)
    attach("report", shot, record_property, capsys)
    stats = browser.assert_not_blank(shot)
    page = browser.js(READ_REPORT)
    errors = browser.severe_console()
    assert errors == [], errors
    # Self-contained: nothing fetched besides the page itself.
    assert page["external"] == [], page["external"]

    assert page["h1"] == f"diffmig run {migrated.run_id}: {migrated.status}"

    # The database's own figures.
    with migrated.dbs.target_tool() as conn:

        def scalar(query: Any, *params: Any) -> Any:
            row = conn.execute(query, params).fetchone()
            assert row is not None, query
            return row[0]

        steps = {
            r[0]: r[1:]
            for r in conn.execute(
                "select entity, phase, rows_new, rows_modified, rows_deleted, rows_applied, "
                "rows_held_back, target_rows_before, target_rows_after, sync_seconds, "
                f"build_seconds from {SCHEMA}.run_steps where run_id = %s order by position",
                (migrated.run_id,),
            )
        }
        counts = {
            entity: scalar(
                psycopg.sql.SQL("select count(*) from {}").format(
                    psycopg.sql.Identifier("public", entity)
                )
            )
            for entity in ENTITIES
        }
        tests_passed = scalar(
            f"select count(*) from {SCHEMA}.build_results where run_id = %s "
            "and resource_type like '%%test%%' and status = 'pass'",
            migrated.run_id,
        )
        open_issues = scalar(
            f"select count(distinct (entity, severity, reason)) from {SCHEMA}.row_issues "
            "where resolved_at is null"
        )
    assert list(steps) == ENTITIES
    baseline = {b["entity"]: b for b in run_baseline(migrated.settings)["entities"]}

    # The per-entity table: one row per entity, as the bookkeeping has it.
    header, *rows = page["entities"]
    assert header == TABLE_COLUMNS
    assert [r[0] for r in rows] == ENTITIES
    in_scope_total = migrated_total = 0
    for row in rows:
        entity = row[0]
        phase, new, modified, deleted, applied, held, before, after, *_ = steps[entity]
        assert row[1] == phase == "done", row
        assert [number(c) for c in row[2:7]] == [new, modified, deleted, applied, held], row
        scope = baseline[entity]["source_rows"]
        done = scope - baseline[entity]["missing_in_target"]
        assert number(row[7]) == scope, (row, baseline[entity])
        assert number(row[8]) == done, (row, baseline[entity])
        assert row[9] == (f"{done / scope:,.3f}" if scope else ""), row
        assert after == counts[entity], (entity, after, counts)
        in_scope_total += scope
        migrated_total += done
    assert len(page["issues"]) - 1 == (open_issues or 1)  # header + one row per group ("None")

    # The headline figures.
    facts = " | ".join(page["facts"])
    rate = re.search(
        r"success rate \(migrated / in scope\): ([\d.,]+) \(([\d,]+) of ([\d,]+)\)", facts
    )
    assert rate, facts
    assert number(rate[2]) == migrated_total, facts
    assert number(rate[3]) == in_scope_total, facts
    assert rate[1] == f"{migrated_total / in_scope_total:,.3f}", facts
    assert f"dbt tests: {tests_passed} passed" in facts, facts

    # The charts: drawn, one labelled bar per entity and series, values from the bookkeeping.
    assert [c["title"] for c in page["charts"]] == [title for title, _ in CHARTS]
    for chart, (title, series) in zip(page["charts"], CHARTS, strict=True):
        assert chart["width"] > 100, chart
        assert chart["height"] > 50, chart
        assert chart["labels"] == ENTITIES, chart
        assert chart["legend"] == series, chart
        assert len(chart["bars"]) == len(ENTITIES) * len(series), chart
        assert len({b["fill"] for b in chart["bars"]}) == len(series), (title, chart["bars"])
        for bar in chart["bars"]:
            assert bar["height"] > 0, (title, bar)
    bars: dict[str, list[int | None]] = {"before": [], "after": []}
    for bar in page["charts"][0]["bars"]:
        name, value = bar["title"].split(": ")
        bars[name].append(number(value))
        assert bar["width"] >= 1, bar  # every table has rows: each bar visible
    assert bars["after"] == [counts[e] for e in ENTITIES], bars
    assert bars["before"] == [steps[e][6] for e in ENTITIES], bars
    # Seconds keep two decimals (a phase under half a second is not shown as 0).
    assert page["charts"][2]["values"] == [
        f"{float(steps[e][i] or 0):,.2f}" for e in ENTITIES for i in (8, 9)
    ], page["charts"][2]["values"]

    with capsys.disabled():
        print(
            f"  run {migrated.timings['run']:.1f} s, report + browser checks "
            f"{time.monotonic() - started:.1f} s; screenshot {stats['width']}x{stats['height']}, "
            f"{stats['colours']} colours"
        )


def docs_console_noise(base: str) -> Any:
    """Console errors the docs site makes that are not ours to fix:
    - anything fetched from another host (web fonts, CDN assets, a tracker: none is expected,
      docs are generated without tracking, but the offline CI cannot reach them anyway);
    - dbt-docs' own broken local links: two <img src="{{ getIcon(...) }}"> fetched before
      Angular fills them in, and a favicon link left as "${require('...favicon.ico')}"
      (both 404 on any server, dbt's hosted docs included)."""

    def ignore(message: str) -> bool:
        url = message.split(" ", 1)[0]
        if url.startswith("http") and not url.startswith(base):
            return True
        return "%7B%7B%20getIcon(" in url or "favicon.ico" in url

    return ignore


def test_dbt_docs_show_the_offices_mapping_and_its_lineage(
    migrated: Migrated,
    browser: Browser,
    tmp_path: Path,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    site = migrated.project.docs_generate()
    generated = time.monotonic() - started
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    offices = manifest["nodes"]["model.diffmig.offices"]
    # The catalog was read from the test destination: the app table with its columns.
    assert "legacy_office_id" in catalog["nodes"]["model.diffmig.offices"]["columns"]
    description = " ".join(offices["description"].replace("`", "").split())
    assert description.startswith("The app's public.offices"), description

    # `+offices`: the mart and everything upstream, down to the legacy table.
    parents: dict[str, list[str]] = manifest["parent_map"]
    upstream, stack = {offices["unique_id"]}, [offices["unique_id"]]
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in upstream:
                upstream.add(parent)
                stack.append(parent)
    assert "source.diffmig.legacy.dispatch_office" in upstream, sorted(upstream)
    edges = {(p, c) for c in upstream for p in parents.get(c, []) if p in upstream}

    with serve_directory(site) as base:
        browser.severe_console()
        ignore = docs_console_noise(base)
        browser.open(f"{base}/index.html#!/model/model.diffmig.offices")
        # The app has loaded manifest.json and catalog.json and drawn the model page.
        browser.wait_for(
            "const t = document.body.innerText.replace(/\\s+/g, ' ');"
            "return t.includes('offices app_upsert') && t.includes(arguments[0]);",
            description[:60],
            message="the offices model page with its description",
        )
        page_text = " ".join(browser.js("return document.body.innerText").split())
        assert description in page_text
        # the relation, in the test destination
        assert f"{migrated.dbs.target_db}.public.offices" in page_text
        model_shot = browser.screenshot(tmp_path / "docs-offices.png")
        attach("docs-offices", model_shot, record_property, capsys)
        browser.assert_not_blank(model_shot)

        # The lineage graph, opened on `+offices` (as the graph's --select box would). The app
        # reads the graph state from the URL only when it loads: a new document (`?lineage`),
        # not a hash change.
        browser.open(
            f"{base}/index.html?lineage#!/model/model.diffmig.offices?g_v=1&g_i={quote('+offices')}"
        )
        graph = browser.wait_for(
            """
            const el = document.getElementById('cy');
            const cy = el && el._cyreg && el._cyreg.cy;
            if (!cy || cy.nodes().length < arguments[0]) return null;
            const canvases = Array.from(el.querySelectorAll('canvas'))
              .map(c => c.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
            const inside = cy.nodes().every(n => {
              const p = n.renderedPosition();
              return p.x >= 0 && p.y >= 0 && p.x <= cy.width() && p.y <= cy.height();
            });
            if (!canvases.length || !inside) return null;
            return {
              nodes: cy.nodes().map(n => n.id()),
              edges: cy.edges().map(e => [e.source().id(), e.target().id()]),
              canvas: [canvases[0].width, canvases[0].height],
            };
            """,
            len(upstream),
            message="the lineage graph of +offices to be laid out",
        )
        lineage_shot = browser.screenshot(tmp_path / "docs-lineage.png")
        attach("docs-lineage", lineage_shot, record_property, capsys)
        stats = browser.assert_not_blank(lineage_shot)
        errors = browser.severe_console(ignore)
    assert errors == [], errors
    assert set(graph["nodes"]) == upstream, (sorted(graph["nodes"]), sorted(upstream))
    assert {tuple(e) for e in graph["edges"]} == edges
    assert graph["canvas"][0] > 600, graph["canvas"]  # the full-width graph, not a sliver
    assert graph["canvas"][1] > 300, graph["canvas"]

    with capsys.disabled():
        print(
            f"  docs generate {generated:.1f} s, browser checks "
            f"{time.monotonic() - started - generated:.1f} s; lineage {len(upstream)} nodes, "
            f"{len(edges)} edges; screenshot {stats['colours']} colours"
        )
