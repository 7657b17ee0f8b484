"""Options shared by the commands.

`--env-file` and `--output` are accepted both before the command (`diffmig --output json sandbox
status`) and after it (`diffmig sandbox status --output json`); the later one wins. `--transport`
is declared once here; the comma-separated list options (`--entities`, `--tables`) are split by
one function (`split_list`), so a command receives `list[str] | None`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def output_option(func: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        default=None,
        help="table (default): human output; json: one JSON document on stdout, nothing else.",
    )(func)


def env_file_option(func: F) -> F:
    return click.option(
        "--env-file",
        type=click.Path(dir_okay=False, path_type=str),
        default=None,
        help="Settings file to read (default: ./.env, else .sandbox/sandbox.env).",
    )(func)


def common_options(func: F) -> F:
    """Adds --env-file and --output to a command and applies them to the AppContext."""

    @functools.wraps(func)
    def wrapper(*args: Any, env_file: str | None, output: str | None, **kwargs: Any) -> Any:
        from orchestrator.cli.context import AppContext

        app = click.get_current_context().find_object(AppContext)
        if app is not None:
            app.override(env_file=env_file, output=output)
        return func(*args, **kwargs)

    return env_file_option(output_option(wrapper))  # type: ignore[return-value]


TRANSPORT_HELP = (
    "fdw: the destination pulls; copy: diffmig streams; auto (default): fdw when the "
    "destination can reach the source."
)


def transport_option(func: F) -> F:
    return click.option(
        "--transport",
        type=click.Choice(["auto", "fdw", "copy"]),
        default=None,
        help=TRANSPORT_HELP,
    )(func)


def split_list(value: str | None) -> list[str] | None:
    """`a, b,,c` -> ['a', 'b', 'c']; nothing (or only commas) -> None (meaning: all)."""
    items = [v.strip() for v in value.split(",") if v.strip()] if value else []
    return items or None


def _split_callback(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> list[str] | None:
    return split_list(value)


def list_option(name: str, help_: str) -> Callable[[F], F]:
    """A comma-separated list option (`--entities`, `--tables`), passed on as a list or None."""

    def decorate(func: F) -> F:
        return click.option(name, default=None, callback=_split_callback, help=help_)(func)

    return decorate


def entities_option(help_: str = "Comma-separated entities (default: all).") -> Callable[[F], F]:
    return list_option("--entities", help_)
