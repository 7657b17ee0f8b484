"""Connections to the source and the destination, and the one retry policy for both.

Every session diffmig opens pins the settings that decide how values print as text
(TimeZone, DateStyle, IntervalStyle, extra_float_digits, bytea_output), because row fingerprints are
md5 hashes of a row's text form and must come out the same on both servers. Destination
sessions also get diffmig's own statement_timeout (DIFFMIG_STATEMENT_TIMEOUT): hosted Supabase
limits every role that sets none to 2 minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg import errors as pg_errors
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from orchestrator.errors import ConnectionFailed, RunFailed
from orchestrator.settings import DbSettings, redact

log = logging.getLogger("diffmig.db")

T = TypeVar("T")

# Session settings that fix the text form of every value (fingerprints depend on it).
PINNED_SESSION = (
    "set timezone = 'UTC'; set datestyle = 'ISO, YMD'; set intervalstyle = 'postgres'; "
    "set extra_float_digits = 1; set bytea_output = 'hex'; set jit = off"
)

# How long a lost connection is retried before the step gives up (its checkpoint stays).
RETRY_ATTEMPTS = 8
RETRY_MAX_SECONDS = 90.0

_TRANSIENT_SQLSTATES = {
    "57P01",  # admin_shutdown: the backend was terminated or the server is stopping
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: the server is starting up
    "08000",
    "08003",
    "08006",
    "08001",
    "08004",  # connection exceptions
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "53300",  # too_many_connections
    "HV00N",  # fdw_unable_to_establish_connection
}


def is_transient(exc: BaseException) -> bool:
    """Errors that a new connection and a second try can cure."""
    if isinstance(exc, ConnectionFailed):
        return exc.transient
    if isinstance(exc, psycopg.OperationalError):
        sqlstate = getattr(exc, "sqlstate", None)
        # A dropped connection has no SQLSTATE; a disk full (53100) or a statement timeout
        # (57014) does, and retrying them blindly would only fail again.
        return sqlstate is None or sqlstate in _TRANSIENT_SQLSTATES
    if isinstance(exc, psycopg.Error):
        return getattr(exc, "sqlstate", None) in _TRANSIENT_SQLSTATES
    return isinstance(exc, (ConnectionError, TimeoutError))


def connect(
    db: DbSettings, *, autocommit: bool = True, application_name: str = "diffmig"
) -> psycopg.Connection:
    """One connection with pinned text settings; a failure becomes a ConnectionFailed with a hint."""
    try:
        conn = psycopg.connect(
            db.conninfo(application_name=application_name), autocommit=autocommit
        )
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(
            f"cannot connect to the {db.side} database {db.describe()}: "
            f"{redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)}",
            hint=f"check the {db.side.upper()}_DB_* settings and that the server is reachable "
            "(`diffmig doctor` checks both sides)",
            transient=is_transient(exc),
        ) from None
    conn.execute(session_settings(db))
    if not autocommit:
        conn.commit()
    return conn


def session_settings(db: DbSettings) -> str:
    """The statements run at the start of every session to `db`."""
    if db.statement_timeout is None:
        return PINNED_SESSION
    # Validated by settings (digits and a unit), so it can be written as a literal.
    return f"{PINNED_SESSION}; set statement_timeout = '{db.statement_timeout}'"


@contextmanager
def connection(db: DbSettings, **kwargs: bool | str) -> Iterator[psycopg.Connection]:
    conn = connect(db, **kwargs)  # type: ignore[arg-type]
    try:
        yield conn
    finally:
        conn.close()


OnRetry = Callable[[int, BaseException, float], None]


def with_retries(
    what: str,
    func: Callable[[], T],
    *,
    on_retry: OnRetry | None = None,
    attempts: int = RETRY_ATTEMPTS,
    max_seconds: float = RETRY_MAX_SECONDS,
) -> T:
    """Run `func` (which opens its own connections), retrying transient failures with backoff.

    `on_retry(attempt, error, sleep_seconds)` is told of every retry, so callers can log and
    record it. Past the bound the last error becomes a RunFailed that says how to resume.
    """

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.1fs",
            what,
            state.attempt_number,
            redact(str(exc)).strip(),
            sleep,
        )
        if on_retry is not None and exc is not None:
            on_retry(state.attempt_number, exc, sleep)

    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
        wait=wait_exponential(multiplier=0.5, min=0.5, max=15),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(func)
    except ConnectionFailed as exc:
        raise RunFailed(
            f"{what}: {exc.message}",
            hint="the work done so far is checkpointed; fix the connection and run again "
            "with --resume",
        ) from None
    except psycopg.Error as exc:
        if not is_transient(exc):
            raise
        raise RunFailed(
            f"{what}: gave up after {attempts} attempts: {redact(str(exc)).strip()}",
            hint="the work done so far is checkpointed; run again with --resume once the "
            "server is back",
        ) from None


__all__ = ["PINNED_SESSION", "connect", "connection", "is_transient", "pg_errors", "with_retries"]
