"""Options shared by every command.

`--env-file` and `--output` are accepted both before the command (`diffmig --output json sandbox
status`) and after it (`diffmig sandbox status --output json`); the later one wins.
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
