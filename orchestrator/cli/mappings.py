"""`diffmig mappings check` and `diffmig mappings repair`: public.migration_mappings against the
target tables (the semantics of every problem and action: orchestrator/mappings.py)."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options, entities_option

pass_app = click.make_pass_decorator(AppContext)

SHOWN_KEYS = 20

mapping_entities_option = entities_option(
    "Comma-separated entity types or marts (e.g. office,orders; default: every entity type "
    "a mart declares)."
)


def _keys(keys: list[int], count: int) -> str:
    shown = ", ".join(str(k) for k in keys[:SHOWN_KEYS])
    return shown + (f" ... (+{count - SHOWN_KEYS:,})" if count > SHOWN_KEYS else "")


def render_check(app: AppContext, doc: dict[str, Any], title: str) -> None:
    """The check's tables: counts and first keys per entity type and problem, then the first
    rows of every problem whose rows differ in detail (not missing mappings, undeclared types)."""
    problems = doc["problems"]
    app.console.table(
        title,
        ["entity type", "problem", "count", f"keys (first {SHOWN_KEYS})"],
        [
            (p["entity_type"], p["problem"], p["count"], _keys(p["keys"], p["count"]))
            for p in problems
        ]
        or [("(all)", "none", 0, "")],
    )
    # The earlier scripts' conventions are counted above, not detailed (every row says the same).
    conventions = doc.get("conventions") or {}
    detailed = [
        p
        for p in problems
        if p["problem"] not in ("missing_mapping", "undeclared_entity_type", *conventions)
    ]
    if detailed:
        app.console.table(
            f"details (first {SHOWN_KEYS} per entity type and problem)",
            ["entity type", "problem", "legacy_id", "new_id", "detail"],
            [
                (p["entity_type"], p["problem"], s["legacy_id"], s["new_id"], s["detail"])
                for p in detailed
                for s in p["samples"]
            ],
        )


@click.group(
    help="Check and repair public.migration_mappings (legacy id -> UUID per entity type) against "
    "the legacy key columns of the target tables, which are the truth."
)
def mappings() -> None:
    pass


@mappings.command(
    help="Find, per entity type: junk rows, undeclared entity types, duplicate new_ids and "
    "legacy keys, dangling mappings, mappings holding another row's UUID, and target rows "
    "without a mapping. Exit 1 when any but junk (and undeclared types) is found. Changes nothing."
)
@mapping_entities_option
@click.option(
    "--fail-on-junk",
    is_flag=True,
    help="Exit 1 on junk rows too (by default they are reported: the earlier scripts' "
    "leftovers, never trusted).",
)
@common_options
@pass_app
def check(app: AppContext, entities: list[str] | None, fail_on_junk: bool) -> None:
    from orchestrator.errors import ChecksFailed
    from orchestrator.mappings import check_mappings

    report = check_mappings(app.settings, entities=entities, fail_on_junk=fail_on_junk)
    doc = report.as_dict()
    render_check(app, doc, f"migration_mappings problems ({doc['elapsed_s']:.1f}s)")
    app.console.result(doc)
    totals = doc["totals"]
    if report.violations:
        raise ChecksFailed(
            f"migration_mappings has {report.violations:,} problem rows: "
            + ", ".join(f"{totals[p]:,} {p}" for p in totals if totals[p]),
            hint="`diffmig mappings repair` shows what it would change; add --apply to do it",
        )
    if totals["junk"]:
        app.console.warn(
            f"{totals['junk']:,} junk rows (reported, never trusted; "
            "`diffmig mappings repair --delete-junk --apply` removes them)"
        )
    for name, count in doc["conventions"].items():
        app.console.info(
            f"{count:,} rows follow the earlier scripts' convention {name} (not a violation; "
            "docs/decisions/adr-0010-earlier-scripts-conventions.md; `diffmig mappings repair "
            "--rewrite-conventions` rewrites those of a declared type)"
        )
    if totals["undeclared_entity_type"]:
        app.console.warn(
            f"{totals['undeclared_entity_type']:,} rows of entity types no mart declares "
            "(not checked, left alone)"
        )
    app.console.info("migration_mappings agrees with the target tables")


@mappings.command(
    help="Rebuild migration_mappings from the target tables' legacy keys: add missing rows, fix "
    "rows whose new_id is not the UUID of the row carrying their key, delete rows whose key has "
    "no row; junk is reported and deleted only with --delete-junk, rows that follow an earlier "
    "scripts' documented convention are kept unless --rewrite-conventions. A dry run unless "
    "--apply (then one transaction). Never changes any other table."
)
@mapping_entities_option
@click.option("--apply", is_flag=True, help="Write the changes (default: only show them).")
@click.option("--delete-junk", is_flag=True, help="Also delete the junk rows.")
@click.option(
    "--rewrite-conventions",
    is_flag=True,
    help="Also rewrite the rows that follow an earlier scripts' convention (e.g. "
    "patient_maps_to_profile: a 'patient' row holding the profile's UUID) to the UUID of the "
    "row carrying their key, for the entity types a mart declares (default: keep them).",
)
@common_options
@pass_app
def repair(
    app: AppContext,
    entities: list[str] | None,
    apply: bool,
    delete_junk: bool,
    rewrite_conventions: bool,
) -> None:
    from orchestrator.mappings import repair_mappings

    report = repair_mappings(
        app.settings,
        apply=apply,
        delete_junk=delete_junk,
        rewrite_conventions=rewrite_conventions,
        entities=entities,
    )
    doc = report.as_dict()
    verb = "done" if apply else "would do (dry run)"
    app.console.table(
        f"migration_mappings repair, batch {doc['batch']}: what it {verb}",
        ["entity type", "action", "count", f"keys (first {SHOWN_KEYS})"],
        [
            (a["entity_type"], a["action"], a["count"], _keys(a["keys"], a["count"]))
            for a in doc["actions"]
        ]
        or [("(all)", "none", 0, "")],
    )
    changes = [a for a in doc["actions"] if a["action"] != "add"]
    if changes:
        app.console.table(
            f"changed and deleted rows (first {SHOWN_KEYS} per entity type and action)",
            ["entity type", "action", "legacy_id", "new_id now", "new_id after", "reason"],
            [
                (
                    a["entity_type"],
                    a["action"],
                    s["legacy_id"],
                    s["old_new_id"],
                    s["new_id"],
                    s["reason"],
                )
                for a in changes
                for s in a["samples"]
            ],
        )
    totals = doc["totals"]
    summary = ", ".join(f"{totals[a]:,} {a}" for a in totals if totals[a]) or "nothing to do"
    if apply:
        app.console.info(f"applied: {summary} (batch {doc['batch']})")
    else:
        app.console.info(f"dry run, nothing changed: {summary}; rerun with --apply to write")
    if doc["junk_kept"]:
        app.console.warn(
            f"{doc['junk_kept']:,} junk rows kept (reported, never trusted); --delete-junk removes them"
        )
    if doc["conventions_kept"]:
        app.console.info(
            f"{doc['conventions_kept']:,} rows that follow an earlier scripts' convention kept "
            "(--rewrite-conventions rewrites those of a declared type)"
        )
    app.console.result(doc)
