"""The structured log file: one JSON object per line, beside the human output.

Every command that does work (run, sync, detect, validate) writes `diffmig-<command>-<UTC
time>.jsonl` into `logs/` of the project (or `DIFFMIG_LOG_DIR`, settings.log_dir). A line has `ts` (ISO 8601, UTC),
`level`, `event`, and as relevant `message`, `run_id`, `entity`, `phase`, `table`, `legacy_key`
and the event's own figures. Every string passes `redact()` before it is written: no secret
reaches the file.
"""

from __future__ import annotations

import atexit
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from orchestrator.catalog import PROJECT_ROOT
from orchestrator.events import (
    BuildProgress,
    RowIssueFound,
    RowIssueReasonCounted,
    RowIssuesCounted,
    RowIssuesOmitted,
    RunEvent,
    SyncProgress,
)
from orchestrator.settings import redact

LOG_DIR_ENV = "DIFFMIG_LOG_DIR"
DEFAULT_LOG_DIR = PROJECT_ROOT / "logs"
LEVELS = ("debug", "info", "warning", "error")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _clean(value: Any) -> Any:
    """JSON-ready and redacted: strings scrubbed, containers walked, the rest as text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return redact(str(value))


class RunLog:
    """An open JSON-lines log file; every line is flushed as it is written."""

    _open: list[RunLog] = []

    def __init__(self, path: Path, stream: IO[str]) -> None:
        self.path = path
        self._stream = stream
        RunLog._open.append(self)
        atexit.register(self.close)

    @classmethod
    def open(cls, command: str, directory: Path | None = None) -> RunLog:
        folder = directory or DEFAULT_LOG_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from orchestrator.errors import ConfigError

            raise ConfigError(
                f"cannot create the log directory {folder}: {exc.strerror}",
                hint=f"set {LOG_DIR_ENV} to a writable directory",
            ) from None
        stamp = _now().strftime("%Y%m%dT%H%M%SZ")
        name = f"diffmig-{command}-{stamp}"
        for attempt in range(1, 1000):
            path = folder / (f"{name}.jsonl" if attempt == 1 else f"{name}-{attempt}.jsonl")
            try:
                stream = path.open("x", encoding="utf-8")
            except FileExistsError:
                continue
            return cls(path, stream)
        raise RuntimeError(f"no free log file name for {name} in {folder}")

    def write(self, level: str, event: str, message: str | None = None, **fields: Any) -> None:
        if self._stream.closed:
            return
        record: dict[str, Any] = {
            "ts": _now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level if level in LEVELS else "info",
            "event": event,
        }
        if message is not None:
            record["message"] = message
        record.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(_clean(record), ensure_ascii=False, default=str)
        self._stream.write(line + "\n")
        self._stream.flush()

    def close(self, *, ended: bool = False) -> None:
        """Closes the file; without `ended` (a failure already written) it first logs that the
        command finished."""
        if not ended:
            self.write("info", "command_finished")
        if not self._stream.closed:
            self._stream.close()
        if self in RunLog._open:
            RunLog._open.remove(self)


def record_failure(message: str, hint: str | None, exit_code: int) -> None:
    """The error a command ends with, in every open log (cli.main calls it), which it closes."""
    for log in list(RunLog._open):
        log.write("error", "command_failed", message, hint=hint, exit_code=exit_code)
        log.close(ended=True)


class LoggedConsole:
    """A Console that also writes every message, table and result to the log file."""

    def __init__(self, inner: Any, log: RunLog) -> None:
        self.inner = inner
        self.log = log

    def info(self, message: str) -> None:
        self.log.write("info", "message", message)
        self.inner.info(message)

    def warn(self, message: str) -> None:
        self.log.write("warning", "message", message)
        self.inner.warn(message)

    def error(self, message: str, hint: str | None = None) -> None:
        self.log.write("error", "error", message, hint=hint)
        self.inner.error(message, hint)

    def table(self, title: str, columns: Any, rows: Any) -> None:
        self.log.write("info", "table", title, columns=list(columns), rows=[list(r) for r in rows])
        self.inner.table(title, columns, rows)

    def result(self, data: dict[str, Any]) -> None:
        self.log.write("info", "result", None, result=data)
        self.inner.result(data)

    def status(self, message: str) -> Any:
        self.log.write("info", "status", message)
        return self.inner.status(message)


def log_run_event(log: RunLog, event: RunEvent) -> None:
    """One event of `MigrationRun` (runner.py) as a log line."""
    level = "info"
    message = None
    if isinstance(event, RowIssueFound):
        level = "error" if event.severity == "error" else "warning"
        message = f"{event.entity}: row {event.legacy_key} ({event.table}): {event.reason}"
    elif isinstance(event, RowIssueReasonCounted):
        level = "warning"
        held = "held back" if event.severity == "error" else "with a warning"
        message = (
            f"{event.entity}: {event.rows:,} rows {held} ({event.reason}). "
            f"What to do: {event.what_to_do}"
        )
    elif isinstance(event, RowIssuesOmitted):
        level = "warning"
        message = (
            f"{event.entity}: {event.omitted:,} more {event.reason} "
            f"{event.severity}s not logged one by one (the first {event.logged:,} "
            "are; diffmig.row_issues has them all, `diffmig report` counts them by reason)"
        )
    elif isinstance(event, (SyncProgress, BuildProgress)):
        level = "debug"
    elif isinstance(event, RowIssuesCounted) and event.errors:
        level = "warning"
    log.write(level, event.kind, message, **event.fields())
