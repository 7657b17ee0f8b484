"""The `diffmig` command line: parse, call one core function, render through the Console.

Exit codes:
    0    success
    1    checks found violations
    2    usage error
    3    configuration or connection problem
    4    run failed, resumable with `diffmig run --resume`
    130  interrupted or paused
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from orchestrator import __version__
from orchestrator.cli.context import AppContext
from orchestrator.cli.options import env_file_option, output_option
from orchestrator.errors import EXIT_INTERRUPTED, DiffmigError, operational_failure
from orchestrator.settings import redact

EXIT_CODES_HELP = """\b
Exit codes:
  0    success
  1    checks found violations
  2    usage error
  3    configuration or connection problem
  4    run failed; resume with `diffmig run --resume`
  130  interrupted or paused
"""


@click.group(
    help="Keep a Supabase database in step with the legacy Django database: migrate only what "
    "changed, in foreign-key order, keeping every UUID already issued.\n\n" + EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="diffmig")
@env_file_option
@output_option
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, env_file: str | None, output: str | None, debug: bool) -> None:
    ctx.obj = AppContext.create(env_file=env_file, output=output, debug=debug)


def _register() -> None:
    from orchestrator.cli.baseline import baseline
    from orchestrator.cli.doctor import doctor
    from orchestrator.cli.mappings import mappings
    from orchestrator.cli.report import report
    from orchestrator.cli.run import pause, run, status
    from orchestrator.cli.sandbox import sandbox
    from orchestrator.cli.schema import schema
    from orchestrator.cli.sync import detect, sync
    from orchestrator.cli.validate import validate

    cli.add_command(sandbox)
    cli.add_command(baseline)
    cli.add_command(report)
    cli.add_command(run)
    cli.add_command(pause)
    cli.add_command(status)
    cli.add_command(detect)
    cli.add_command(sync)
    cli.add_command(mappings)
    cli.add_command(validate)
    cli.add_command(doctor)
    cli.add_command(schema)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns errors into one message and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="diffmig", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        from orchestrator.runlog import record_failure

        record_failure("interrupted", None, EXIT_INTERRUPTED)
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except DiffmigError as exc:
        _report(exc, exc.exit_code, exc.hint)
    except Exception as exc:  # noqa: BLE001 - the last line of defence must catch everything
        known = operational_failure(exc)
        if known is not None:
            _report(known, known.exit_code, known.hint)
        _report(exc, 4, "this is a bug in diffmig; rerun with --debug and report the traceback")
    sys.exit(0)


def _report(exc: BaseException, code: int, hint: str | None) -> None:
    ctx: Any = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx else None
    if app is None:
        app = AppContext.create(env_file=None, output="table", debug="--debug" in sys.argv)
    if app.debug:
        traceback.print_exception(exc, file=sys.stderr)
    message = str(exc) if isinstance(exc, DiffmigError) else f"{type(exc).__name__}: {exc}"
    from orchestrator.runlog import record_failure

    record_failure(redact(message), hint, code)
    app.console.error(redact(message), hint)
    sys.exit(code)
