"""One Console for every command: rich on a terminal, plain lines otherwise, JSON with
--output json.

Core code never prints: it calls these methods. Human output goes to stderr for progress and
messages, and tables go to stdout; the JSON console writes exactly one JSON document on stdout
(the command's result) and its messages as JSON lines on stderr. Every text passes `redact()`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from orchestrator.settings import redact

Row = Sequence[Any]


class Console(Protocol):
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def error(self, message: str, hint: str | None = None) -> None: ...
    def table(self, title: str, columns: Sequence[str], rows: Sequence[Row]) -> None: ...
    def result(self, data: dict[str, Any]) -> None: ...
    def status(self, message: str) -> Any: ...


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return redact(str(value))


class PlainConsole:
    """Log-style lines for pipes, CI and files."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def _line(self, level: str, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {level:<5} {redact(message)}", file=self.err, flush=True)

    def info(self, message: str) -> None:
        self._line("INFO", message)

    def warn(self, message: str) -> None:
        self._line("WARN", message)

    def error(self, message: str, hint: str | None = None) -> None:
        self._line("ERROR", message)
        if hint:
            self._line("HINT", hint)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        cells = [[_fmt(v) for v in row] for row in rows]
        widths = [len(c) for c in columns]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        print(title, file=self.out)
        print(
            "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
            file=self.out,
        )
        print("  ".join("-" * w for w in widths), file=self.out)
        for row in cells:
            line = "  ".join(
                v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)
            )
            print(line.rstrip(), file=self.out)
        self.out.flush()

    def result(self, data: dict[str, Any]) -> None:
        """Human consoles have rendered the result already through table()/info()."""

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        self.info(message)
        started = time.monotonic()
        yield
        self.info(f"{message} done in {time.monotonic() - started:.1f}s")


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "", 1).lstrip("-")
    return stripped.isdigit()


class RichConsole(PlainConsole):
    """Colour, tables and spinners on a terminal (messages on stderr)."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console as RichBase

        self._out = RichBase()
        self._err = RichBase(stderr=True)

    @property
    def stderr_console(self) -> Any:
        """The rich console of the messages (progress displays draw on it)."""
        return self._err

    def info(self, message: str) -> None:
        self._err.print(redact(message), markup=False, highlight=False)

    def warn(self, message: str) -> None:
        self._err.print(f"[yellow]warning:[/] {_escape(redact(message))}")

    def error(self, message: str, hint: str | None = None) -> None:
        self._err.print(f"[bold red]error:[/] {_escape(redact(message))}")
        if hint:
            self._err.print(f"[cyan]hint:[/] {_escape(redact(hint))}")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for index, column in enumerate(columns):
            numeric = bool(rows) and all(
                isinstance(r[index], (int, float)) and not isinstance(r[index], bool)
                for r in rows
                if r[index] is not None
            )
            table.add_column(column, justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*[_escape(_fmt(v)) for v in row])
        self._out.print(table)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        started = time.monotonic()
        with self._err.status(_escape(redact(message))):
            yield
        self._err.print(
            f"{_escape(redact(message))} [green]done[/] in {time.monotonic() - started:.1f}s"
        )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class JsonConsole(PlainConsole):
    """Only the command's JSON result on stdout; messages as JSON lines on stderr."""

    def _line(self, level: str, message: str) -> None:
        record = {"level": level.lower(), "message": redact(message), "ts": time.time()}
        print(json.dumps(record, ensure_ascii=False), file=self.err, flush=True)

    def error(self, message: str, hint: str | None = None) -> None:
        record = {"level": "error", "message": redact(message), "hint": redact(hint or "")}
        print(json.dumps(record, ensure_ascii=False), file=self.err, flush=True)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Tables are part of the JSON result, not printed separately."""

    def result(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False, default=str, indent=2)
        print(redact(text), file=self.out, flush=True)


def make_console(output: str) -> Console:
    if output == "json":
        return JsonConsole()
    if sys.stderr.isatty() and sys.stdout.isatty():
        return RichConsole()
    return PlainConsole()
