"""`diffmig detect` and `diffmig sync`: what changed in the legacy tables, and staging it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options, list_option, transport_option

if TYPE_CHECKING:
    from orchestrator.sync.engine import Progress, TableProgress

pass_app = click.make_pass_decorator(AppContext)

tables_option = list_option(
    "--tables", "Comma-separated legacy tables (default: every mirrored table)."
)


def _render(app: AppContext, report: dict[str, Any], title: str) -> None:
    rows = [
        (t["table"], t["source_rows"], t["new"], t["modified"], t["deleted"], t["seconds"])
        for t in report["tables"]
    ]
    app.console.table(
        title, ["table", "source rows", "new", "modified", "deleted", "seconds"], rows
    )
    totals = {k: sum(t[k] for t in report["tables"]) for k in ("new", "modified", "deleted")}
    app.console.info(
        f"run {report['run_id']} ({report['transport']}): {totals['new']:,} new, "
        f"{totals['modified']:,} modified, {totals['deleted']:,} deleted in "
        f"{report['elapsed_s']:.1f}s; analysis {report['analysis_id']}"
    )
    for retry in report["retries"]:
        app.console.warn(f"retried: {retry}")


def _progress(app: AppContext) -> Progress:
    def show(event: TableProgress) -> None:
        if app.log is not None:
            app.log.write("debug", "progress", None, phase="sync", **event.fields())
        if app.output != "json":
            app.console.info(
                f"{event.table}: range {event.ranges_done}/{event.ranges_total}, "
                f"{event.rows:,} rows changed so far"
            )

    return show


@click.command(
    help="Count the rows new, modified and deleted in each legacy table a run syncs (every "
    "table some entity reads) since the last sync, and save the analysis with its keys. Names "
    "the mirrored tables no entity reads. Changes nothing in the app tables."
)
@list_option(
    "--tables", "Comma-separated legacy tables (default: every mirrored table some entity reads)."
)
@transport_option
@common_options
@pass_app
def detect(app: AppContext, tables: list[str] | None, transport: str | None) -> None:
    from orchestrator.detect import detect as detect_changes

    app.start_log("detect")
    report = detect_changes(
        app.settings,
        tables=tables,
        transport=transport,
        progress=_progress(app),
        info=app.console.info,
    )
    _render(app, report, "changes in the source since the last sync")
    if report["unread_tables"]:
        app.console.info(
            f"not analysed: {', '.join(report['unread_tables'])} (no entity reads them, so no "
            "run syncs them; `--tables` analyses them anyway)"
        )
    report["entities"] = []
    app.console.result(report)


@click.command(
    help="Apply the source's changes to the staged mirror (diffmig_staging), range by "
    "range with checkpoints; --resume continues an interrupted sync."
)
@tables_option
@transport_option
@click.option(
    "--resume", is_flag=True, help="Continue the last unfinished sync from its checkpoints."
)
@common_options
@pass_app
def sync(app: AppContext, tables: list[str] | None, transport: str | None, resume: bool) -> None:
    from orchestrator.sync.engine import SyncEngine

    app.start_log("sync")
    engine = SyncEngine(
        app.settings, transport=transport, progress=_progress(app), info=app.console.info
    )
    report = engine.run(tables=tables, apply=True, resume=resume).as_dict()
    _render(app, report, "changes applied to the mirror")
    app.console.result(report)
