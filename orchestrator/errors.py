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


# What a database error's text (or SQLSTATE) says happened, and what to do about it. The first
# entry whose marker appears wins. dbt reports a failed model by its message only (no SQLSTATE),
# so the markers include the server's own wording.
_CAUSES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("53100", "no space left on device", "disk full", "could not extend file"),
        "the destination is out of disk space",
        "free some disk space on the destination (or grow the disk)",
    ),
    (
        ("25006", "read-only transaction", "read_only_sql_transaction"),
        "the destination is in read-only mode (hosted Supabase switches a project whose disk "
        "is full to read-only)",
        "add disk space to the project (or free some), then make it writable again "
        "(`alter database ... set default_transaction_read_only = off`, or the dashboard)",
    ),
    (
        ("57014", "statement timeout"),
        "a statement hit the destination's statement_timeout",
        "raise DIFFMIG_STATEMENT_TIMEOUT (diffmig sets it on every destination session; "
        "0 = none, the default; `diffmig doctor` shows which applies) or run at a quieter time",
    ),
    (
        (
            "57p01",
            "57p02",
            "57p03",
            "08000",
            "08001",
            "08003",
            "08006",
            "terminating connection",
            "server closed the connection",
            "connection already closed",
            "connection refused",
            "could not connect",
            "the database system is",
            "ssl connection has been closed",
        ),
        "the connection to the destination was lost (server restarted, stopped or unreachable)",
        "wait until the destination accepts connections again (`diffmig doctor` checks)",
    ),
    (
        ("53200", "out of memory"),
        "the destination ran out of memory",
        "free memory on the destination or lower its work_mem for the diffmig role",
    ),
    (
        ("42501", "permission denied"),
        "the destination role lacks a privilege",
        "grant it (`diffmig doctor` lists what diffmig needs)",
    ),
)


def diagnose(text: str, sqlstate: str | None = None) -> tuple[str, str] | None:
    """(what happened, what to do) for a destination error, from its SQLSTATE or its text;
    None when the error is none of the known operational causes."""
    lowered = f"{(sqlstate or '').lower()} {text.lower()}"
    for markers, cause, action in _CAUSES:
        if any(marker in lowered for marker in markers):
            return cause, action
    return None


def hint_for(text: str, sqlstate: str | None, then: str) -> str:
    """The hint of an error raised for a failed statement: the known cause and what to do about
    it (the one table above, by SQLSTATE or text), then `then` (how to continue)."""
    found = diagnose(text, sqlstate)
    what = f"{found[0]}: {found[1]}" if found else "fix the cause named above"
    return f"{what}; then {then}"


def operational_failure(exc: BaseException) -> RunFailed | None:
    """A database error that escaped the code that knows its context (e.g. the first write of a
    run to a destination gone read-only) as a resumable failure naming its cause and what to do;
    None for anything else (a bug)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if not sqlstate:
        return None
    text = str(exc).strip()
    found = diagnose(text, sqlstate)
    if found is None:
        return None
    first = text.splitlines()[0] if text else type(exc).__name__
    return RunFailed(
        f"{found[0]}: {first}",
        hint=f"{found[1]}; then run the command again (`diffmig run --resume` continues a run "
        "from its checkpoints)",
    )
