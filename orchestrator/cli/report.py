"""`diffmig report [RUN_ID]`: write a run's report (Markdown, JSON, HTML) into reports/."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options

pass_app = click.make_pass_decorator(AppContext)


@click.command(help="Write the report of a run (default: the last) as Markdown, JSON and HTML.")
@click.argument("run_id", type=int, required=False)
@common_options
@pass_app
def report(app: AppContext, run_id: int | None) -> None:
    from orchestrator.reporting.report import write_report

    written = write_report(app.settings, run_id)
    for kind, path in written["files"].items():
        app.console.info(f"{kind}: {path}")
    app.console.result(written)
