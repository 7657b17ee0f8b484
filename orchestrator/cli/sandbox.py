"""`diffmig sandbox ...`: the local legacy + Supabase pair with generated data."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options
from orchestrator.sandbox.manager import DEFAULT_ACTIVITY_DAYS, Sandbox

pass_app = click.make_pass_decorator(AppContext)


@click.group(
    help="The local sandbox: a legacy database and a Supabase database, with generated data."
)
def sandbox() -> None:
    pass


def _render_status(app: AppContext, status: dict[str, Any]) -> None:
    console = app.console
    if not status.get("exists"):
        console.info("no sandbox here; `diffmig sandbox up` creates one")
        console.result(status)
        return
    console.info(
        f"sandbox: scale {status['scale']}, seed {status['seed']}, "
        f"activity batches {status['activity_batches'] or 'none'}; settings in {status['env_file']}"
    )
    for side in status["sides"]:
        state = "running" if side["running"] else "stopped"
        size = side.get("size_bytes")
        size_text = f", {size / 1024 / 1024:,.0f} MB" if size else ""
        console.table(
            f"{side['side']} ({state}, 127.0.0.1:{side['port']}/{side['database']}{size_text})",
            ["table", "rows"],
            [(t["table"], t["rows"]) for t in side["tables"]],
        )
    console.result(status)


@sandbox.command(help="Create (or reuse) the sandbox and print where it stands.")
@click.option(
    "--scale", type=float, default=None, help="Fraction of the real volumes [default: 0.02]."
)
@click.option("--seed", type=int, default=None, help="Random seed [default: 7].")
@click.option(
    "--activity-days",
    type=click.IntRange(min=0),
    default=DEFAULT_ACTIVITY_DAYS,
    show_default=True,
    help="Days of legacy activity simulated after the earlier migration.",
)
@common_options
@pass_app
def up(app: AppContext, scale: float | None, seed: int | None, activity_days: int) -> None:
    if scale is not None and not 0 < scale <= 10:
        raise click.BadParameter("must be in (0, 10]", param_hint="--scale")
    status = Sandbox().up(
        scale=scale, seed=seed, activity_days=activity_days, on_step=app.console.info
    )
    _render_status(app, status)
    _show_env(app)


def _show_env(app: AppContext) -> None:
    env_file = Sandbox().env_file
    if not env_file.is_file():
        return
    app.console.info(f"connection settings written to {env_file} (passwords masked here):")
    for line in env_file.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            app.console.info(f"  {key}={'***' if key.endswith('PASSWORD') else value}")


@sandbox.command(help="Show the sandbox's clusters, tables and row counts.")
@common_options
@pass_app
def status(app: AppContext) -> None:
    _render_status(app, Sandbox().status())


@sandbox.command(help="Stop the sandbox's clusters (data is kept; `up` starts them again).")
@common_options
@pass_app
def down(app: AppContext) -> None:
    result = Sandbox().down()
    app.console.info(f"stopped: {', '.join(result['stopped']) or 'nothing was running'}")
    app.console.result(result)


@sandbox.command(help="Delete the sandbox and build it again from scratch.")
@click.option(
    "--scale", type=float, default=None, help="Fraction of the real volumes [default: 0.02]."
)
@click.option("--seed", type=int, default=None, help="Random seed [default: 7].")
@click.option(
    "--activity-days", type=click.IntRange(min=0), default=DEFAULT_ACTIVITY_DAYS, show_default=True
)
@click.option("--destroy-only", is_flag=True, help="Delete the sandbox and do not rebuild it.")
@common_options
@pass_app
def reset(
    app: AppContext, scale: float | None, seed: int | None, activity_days: int, destroy_only: bool
) -> None:
    box = Sandbox()
    previous = box.load_state()
    box.reset()
    app.console.info(f"removed the sandbox in {box.root}")
    if destroy_only:
        app.console.result({"removed": str(box.root)})
        return
    status = box.up(
        scale=scale if scale is not None else (previous.scale if previous else None),
        seed=seed if seed is not None else (previous.seed if previous else None),
        activity_days=activity_days,
        on_step=app.console.info,
    )
    _render_status(app, status)


@sandbox.command(
    help="Simulate more days of use of the legacy database (new, changed, deleted rows)."
)
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True)
@click.option(
    "--seed", type=int, default=None, help="Random seed [default: derived from the sandbox's]."
)
@common_options
@pass_app
def activity(app: AppContext, days: int, seed: int | None) -> None:
    summary = Sandbox().activity(days=days, seed=seed, on_step=app.console.info)
    app.console.table(
        f"activity batch {summary['batch']} ({days} days)",
        ["table", "kind", "rows"],
        summary["changes"],
    )
    app.console.result(summary)
