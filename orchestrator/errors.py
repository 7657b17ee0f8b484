"""The error hierarchy. Each error carries its exit code and a hint that says what to do next.

Exit codes (documented in `diffmig --help` and README.md):
    0   success
    1   checks found violations (validate, mappings check, tests)
    2   usage error (bad option or argument)
    3   configuration or connection problem (fix the settings or the server, then retry)
    4   the run failed but can be resumed (`diffmig run --resume`)
    130 interrupted or paused (resume later)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_RESUMABLE = 4
EXIT_INTERRUPTED = 130


class DiffmigError(Exception):
    """Base class: a one-line message for the user plus what to do about it."""

    exit_code: int = EXIT_RESUMABLE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(DiffmigError):
    """A setting is missing or invalid."""

    exit_code = EXIT_CONFIG


class ConnectionFailed(DiffmigError):
    """A database could not be reached or refused the connection. `transient` is true when
    trying again later may succeed (server down or restarting), false when it cannot (wrong
    password, unknown database)."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, hint)
        self.transient = transient


class EnvironmentProblem(DiffmigError):
    """Something the machine lacks (PostgreSQL binaries, a free port, permissions)."""

    exit_code = EXIT_CONFIG


class SandboxError(DiffmigError):
    """The local sandbox is not in the state the command needs."""

    exit_code = EXIT_CONFIG


class UsageError(DiffmigError):
    """The command was called with arguments that do not fit."""

    exit_code = EXIT_USAGE


class ChecksFailed(DiffmigError):
    """A check found violations; the details were already rendered."""

    exit_code = EXIT_VIOLATIONS


class RunFailed(DiffmigError):
    """A run stopped on an error; its checkpoints allow `diffmig run --resume`."""

    exit_code = EXIT_RESUMABLE


class Interrupted(DiffmigError):
    """The user paused or interrupted the work."""

    exit_code = EXIT_INTERRUPTED
