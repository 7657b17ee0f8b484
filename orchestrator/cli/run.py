"""`diffmig run`, `diffmig pause` and `diffmig status`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options, entities_option, transport_option

if TYPE_CHECKING:
    from orchestrator.events import RunEvent

pass_app = click.make_pass_decorator(AppContext)


@click.command(
    help="Migrate: for each entity in dependency order, sync its legacy tables, build its dbt "
    "models and tests, validate and checkpoint; then write the run's report into reports/ "
    "(Markdown, JSON, HTML), whatever the outcome. --resume continues an unfinished run."
)
@click.option(
    "--mode",
    type=click.Choice(["delta", "full"]),
    default="delta",
    show_default=True,
    help="delta: only rows synced since each entity's last applied run; full: re-map every row.",
)
@entities_option()
@click.option("--from", "from_entity", default=None, help="Start at this entity (in order).")
@transport_option
@click.option(
    "--resume", is_flag=True, help="Continue the last unfinished run from its checkpoints."
)
@click.option(
    "--reconcile",
    is_flag=True,
    help="Also overwrite drift: target rows the earlier scripts wrote that differ from the mapping.",
)
@common_options
@pass_app
def run(
    app: AppContext,
    mode: str,
    entities: list[str] | None,
    from_entity: str | None,
    transport: str | None,
    resume: bool,
    reconcile: bool,
) -> None:
    from orchestrator.progress import run_view
    from orchestrator.runlog import log_run_event
    from orchestrator.runner import MigrationRun

    log = app.start_log("run")
    view = run_view(app.console, app.output)

    def show(event: RunEvent) -> None:
        log_run_event(log, event)
        view.handle(event)

    migration = MigrationRun(
        app.settings,
        mode=mode,
        entities=entities,
        from_entity=from_entity,
        transport=transport,
        resume=resume,
        reconcile=reconcile,
        events=show,
        info=app.console.info,
    )
    # Every run leaves its report, whatever its outcome (a failed run's is the most needed).
    try:
        with view:
            outcome = migration.execute()
    except BaseException:
        _say_where(app, _report(app, migration.run_id))
        raise
    written = _report(app, migration.run_id)
    doc = outcome.as_dict()
    doc["report"] = written
    app.console.table(
        f"run {outcome.run_id} ({outcome.mode}): {outcome.status} in {outcome.seconds:.1f}s, "
        f"{_reloads_text(outcome.schema_reloads)}",
        ["entity", "status", "synced", "applied", "held back", "tests failed", "seconds"],
        [
            (
                e["entity"],
                e["status"],
                e["rows_synced"],
                e["rows_applied"],
                e["rows_held_back"],
                e["tests_failed"],
                e["seconds"],
            )
            for e in doc["entities"]
        ],
    )
    _say_where(app, written)
    app.console.result(doc)
    if any(e.tests_failed for e in outcome.entities):
        from orchestrator.errors import ChecksFailed

        raise ChecksFailed(
            f"run {outcome.run_id} finished, but dbt tests failed",
            hint="`diffmig validate` lists the offending keys",
        )


def _reloads_text(reloads: int | None) -> str:
    """The run's schema-cache reloads, as the summary says them."""
    if reloads is None:
        return "schema-cache reloads not measured"
    return f"{reloads} schema-cache reload{'' if reloads == 1 else 's'} of the destination's API"


def _report(app: AppContext, run_id: int) -> dict[str, Any] | None:
    """Writes the run's report into reports/ (nothing when no run started); a report that
    cannot be written is a warning."""
    if not run_id:
        return None
    from orchestrator.reporting.report import write_run_report

    written, failure = write_run_report(app.settings, run_id)
    if written is None:
        app.console.warn(
            f"the report of run {run_id} could not be written: {failure}; "
            f"`diffmig report {run_id}` writes it once the destination answers"
        )
        return None
    return written


def _say_where(app: AppContext, written: dict[str, Any] | None) -> None:
    if written is not None:
        app.console.info(f"report: {written['files']['html']} (also .md and .json)")


@click.command(help="Ask the running `diffmig run` to stop at its next safe point.")
@common_options
@pass_app
def pause(app: AppContext) -> None:
    from orchestrator.runner import request_pause

    run_id = request_pause(app.settings)
    if run_id is None:
        app.console.info("no run is running")
    else:
        app.console.info(f"run {run_id} will pause at its next safe point; resume with --resume")
    app.console.result({"paused_run": run_id})


@click.command(help="Show the progress of the current (or last) run, read from the bookkeeping.")
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until the run ends.")
@common_options
@pass_app
def status(app: AppContext, watch: bool) -> None:
    from orchestrator.status import read_status

    while True:
        doc = read_status(app.settings)
        run_info = doc.get("run")
        if run_info is None:
            app.console.info("no run yet")
        else:
            app.console.table(
                f"run {run_info['run_id']} ({run_info['command']}, {run_info['mode'] or '-'}): "
                f"{run_info['status']}, started {run_info['started_at']}",
                ["entity", "phase", "synced", "applied", "held back", "rows/s", "eta"],
                [
                    (
                        s["entity"],
                        s["phase"],
                        s["rows_synced"],
                        s["rows_applied"],
                        s["rows_held_back"],
                        s["rows_per_s"],
                        s["eta"],
                    )
                    for s in doc["steps"]
                ],
            )
        app.console.result(doc)
        if not watch or run_info is None or run_info["status"] != "running":
            return
        time.sleep(2)
