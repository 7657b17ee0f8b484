"""`diffmig baseline`: where the migration stands, per entity."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options

pass_app = click.make_pass_decorator(AppContext)


@click.command(
    help="Per entity: source rows in scope, target rows, mapped rows, keys missing in the target, "
    "target rows whose legacy key is gone, junk mappings, and the last successful migration."
)
@common_options
@pass_app
def baseline(app: AppContext) -> None:
    from orchestrator.baseline import run_baseline

    doc = run_baseline(app.settings)
    app.console.table(
        f"baseline ({doc['elapsed_s']:.1f}s)",
        [
            "entity",
            "source (in scope)",
            "target",
            "mapped",
            "missing in target",
            "gone from source",
            "junk mappings",
            "last migrated",
        ],
        [
            (
                e["entity"],
                e["source_rows"],
                e["target_rows"],
                e["mapped_rows"],
                e["missing_in_target"],
                e["orphaned_in_target"],
                e["junk_mappings"],
                e["last_migrated_at"],
            )
            for e in doc["entities"]
        ],
    )
    for entity in doc["entities"]:
        if entity.get("error"):
            app.console.warn(f"{entity['entity']}: {entity['error']}")
    app.console.result(doc)
