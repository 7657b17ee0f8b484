"""`diffmig schema diff`: the live schemas against the mapping and the last snapshots."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options

pass_app = click.make_pass_decorator(AppContext)


@click.group(help="Schema drift between the legacy source, the mapping and the Supabase target.")
def schema() -> None:
    pass


@schema.command(
    "diff",
    help="Compare the live source catalog (the declared legacy tables) and target catalog (the "
    "app tables the marts write) with what the mapping uses and with the last saved snapshots: "
    "new, dropped and retyped columns, new foreign keys, new unmirrored tables, and what to do "
    "with each new legacy column. Writes docs/schema-notes.md and saves a snapshot per side. "
    "Exit 1 when a change can lose data.",
)
@click.option(
    "--no-write",
    is_flag=True,
    help="Only report: write no notes and save no snapshot.",
)
@click.option(
    "--notes",
    "notes",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the notes (default: docs/schema-notes.md in the project).",
)
@common_options
@pass_app
def diff(app: AppContext, no_write: bool, notes: Path | None) -> None:
    from orchestrator.errors import ChecksFailed
    from orchestrator.schema_diff import run_schema_diff

    report = run_schema_diff(app.settings, write=not no_write, notes_path=notes)
    changes = report["changes"]
    app.console.table(
        "schema changes",
        ["side", "basis", "change", "table", "column", "detail", "can lose data"],
        [
            (c["side"], c["basis"], c["kind"], c["table"], c["column"], c["detail"], c["data_loss"])
            for c in changes
        ],
    )
    if report["recommendations"]:
        app.console.table(
            "recommendations",
            ["legacy column", "action", "target", "detail"],
            [
                (f"{r['table']}.{r['column']}", r["action"], r["target"], r["detail"])
                for r in report["recommendations"]
            ],
        )
    for side in ("source", "target"):
        doc = report[side]
        previous = doc["previous_snapshot"]
        compared = (
            f"snapshot {previous['snapshot_id']} of {previous['taken_at']}"
            if previous
            else "no earlier snapshot (this run records the baseline)"
        )
        saved = f"; saved snapshot {doc['saved_snapshot']}" if doc["saved_snapshot"] else ""
        app.console.info(f"{side}: {doc['tables']} tables, compared with {compared}{saved}")
    if report["unmirrored_tables"]:
        app.console.info(f"source tables not mirrored: {', '.join(report['unmirrored_tables'])}")
    if report["notes"]:
        app.console.info(f"notes written to {report['notes']}")
    app.console.info(
        f"{len(changes)} change(s): "
        f"{sum(1 for c in changes if c['basis'] == 'mapping')} against the mapping, "
        f"{sum(1 for c in changes if c['basis'] == 'snapshot')} against the snapshots"
    )
    app.console.result(report)
    lossy = [c for c in changes if c["data_loss"]]
    if lossy:
        names = ", ".join(
            f"{c['table']}.{c['column']}" if c["column"] else c["table"] for c in lossy
        )
        raise ChecksFailed(
            f"{len(lossy)} schema change(s) can lose data: {names}",
            hint="review them before the next run (see the table above and the notes); "
            "widen the target or adapt the mapping",
        )
