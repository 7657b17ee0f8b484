"""How `diffmig run` shows its progress: the runner's events (runner.py `_emit`) rendered by the
console layer, never by core code.

On a terminal (RichConsole), one rich progress bar per entity: its phase, rows done of the rows
expected, rows per second and an ETA. Elsewhere (plain lines, JSON) a line per phase and per
entity, as before. Expected rows: for the sync, the source rows of the entity's legacy tables (the
mirror's estimate until the engine has counted them); for the build, the mirror rows it will map.
The ETA comes from the phase's own throughput, else from the throughput of the same phase in the
entities already done in this run; with neither, or with no expected rows, it says `?`.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Protocol

from rich.console import Console as RichBase
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Column
from rich.text import Text

from orchestrator.console import Console
from orchestrator.events import (
    BuildPhase,
    BuildProgress,
    EntityDone,
    RowIssuesCounted,
    RunEvent,
    SyncPhase,
    SyncProgress,
)
from orchestrator.settings import redact


class RunView(Protocol):
    def handle(self, event: RunEvent) -> None: ...
    def __enter__(self) -> RunView: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class PlainRunView:
    """A line per phase and per entity (plain and JSON consoles)."""

    def __init__(self, console: Console, *, json_output: bool = False) -> None:
        self.console = console
        self.json_output = json_output

    def __enter__(self) -> PlainRunView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def handle(self, event: RunEvent) -> None:
        if isinstance(event, (SyncPhase, BuildPhase)):
            self.console.info(f"{event.entity}: {event.phase}")
        elif isinstance(event, EntityDone):
            rate = event.rows_applied / event.seconds if event.seconds else 0.0
            self.console.info(
                f"{event.entity}: done, {event.rows_synced:,} rows synced, "
                f"{event.rows_applied:,} applied in {event.seconds:.1f}s "
                f"({rate:,.0f} rows/s)"
            )
        elif isinstance(event, RowIssuesCounted) and not self.json_output:
            self.console.warn(_issues_line(event))


def _issues_line(event: RowIssuesCounted) -> str:
    return (
        f"{event.entity}: {event.errors:,} rows held back, {event.warnings:,} applied "
        "with a warning (their keys: the log file, and diffmig.row_issues)"
    )


class Throughput:
    """Rows and seconds per phase over the entities finished so far in this run."""

    def __init__(self) -> None:
        self.rows: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, rows: float, seconds: float) -> None:
        if rows > 0 and seconds > 0:
            self.rows[phase] = self.rows.get(phase, 0.0) + rows
            self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def rate(self, phase: str) -> float | None:
        seconds = self.seconds.get(phase, 0.0)
        if seconds <= 0 or self.rows.get(phase, 0.0) < MIN_HISTORY_ROWS:
            return None
        return self.rows[phase] / seconds


def eta_text(phase: str, done: int, total: int | None, elapsed: float, history: Throughput) -> str:
    """The time left in a phase, or `?` when it cannot honestly be told."""
    if phase in ("done", "skipped"):
        return ""
    if total is None:
        return "ETA ?"
    remaining = max(total - done, 0)
    if remaining == 0:
        return "ETA 0:00:00"
    if done > 0 and elapsed > 0:
        return f"ETA {_duration(remaining / (done / elapsed))}"
    rate = history.rate(phase)
    if rate:
        return f"ETA ~{_duration(remaining / rate)}"
    return "ETA ?"


# Below this many rows, a finished phase's throughput is mostly its fixed cost (dbt's nodes, the
# checksums) and says nothing about the next entity's time.
MIN_HISTORY_ROWS = 10_000


class RichRunView:
    """One rich progress bar per entity, on the console's stderr."""

    def __init__(self, console: RichBase) -> None:
        self.history = Throughput()
        self.tasks: dict[str, TaskID] = {}
        self.phase_started: dict[str, float] = {}
        self.progress = Progress(
            TextColumn("{task.description:<19}", table_column=_nowrap()),
            TextColumn("{task.fields[phase_text]:<15}", table_column=_nowrap()),
            BarColumn(bar_width=16),
            _FigureColumn(self, "rows"),
            _FigureColumn(self, "rate"),
            _FigureColumn(self, "eta"),
            console=console,
            refresh_per_second=4,
        )

    def __enter__(self) -> RichRunView:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _task(self, entity: str) -> TaskID:
        if entity not in self.tasks:
            self.tasks[entity] = self.progress.add_task(
                entity, total=None, phase="", phase_text="", done=0, rows_total=None, final=""
            )
        return self.tasks[entity]

    def handle(self, event: RunEvent) -> None:
        entity = getattr(event, "entity", None)
        if not isinstance(entity, str):
            return
        task = self._task(entity)
        if isinstance(event, (SyncPhase, BuildPhase)):
            self._phase(task, entity, event.phase, event.rows_total)
        elif isinstance(event, SyncProgress):
            self._progress(task, event.phase, event.rows_done, event.rows_total)
        elif isinstance(event, BuildProgress):
            text = f"build, {event.nodes_done} nodes" if event.nodes_done else event.phase
            rows_total = self.progress.tasks[task].fields["rows_total"]
            self._progress(task, text, event.rows_done, rows_total)
        elif isinstance(event, EntityDone):
            self._finish(task, entity, event)
        elif isinstance(event, RowIssuesCounted):
            self.progress.console.print(
                f"[yellow]warning:[/] {escape(redact(_issues_line(event)))}", highlight=False
            )

    def _phase(self, task: TaskID, entity: str, phase: str, total: int | None) -> None:
        fields = self.progress.tasks[task].fields
        started = self.phase_started.get(entity)
        if fields["phase"] == "sync" and started is not None:
            self.history.add("sync", fields["done"], time.monotonic() - started)
        self.phase_started[entity] = time.monotonic()
        self.progress.update(
            task,
            phase=phase,
            phase_text=phase,
            done=0,
            rows_total=total,
            total=total or None,
            completed=0,
        )

    def _progress(self, task: TaskID, text: str, done: int | None, total: int | None) -> None:
        fields = self.progress.tasks[task].fields
        self.progress.update(
            task,
            phase_text=text,
            done=fields["done"] if done is None else int(done),
            rows_total=total,
            total=total or None,
            completed=fields["done"] if done is None else int(done),
        )

    def _finish(self, task: TaskID, entity: str, event: EntityDone) -> None:
        fields = self.progress.tasks[task].fields
        started = self.phase_started.get(entity)
        if fields["phase"] == "build" and started is not None:
            self.history.add("build", fields["done"], time.monotonic() - started)
        rows = int(event.rows_applied)
        self.progress.update(
            task,
            phase="done",
            phase_text=f"done in {event.seconds:.1f}s",
            done=rows,
            rows_total=rows,
            total=1,
            completed=1,
            final=f"{event.rows_synced:,} synced, {rows:,} applied",
        )

    def figure(self, task: Task, which: str) -> str:
        fields = task.fields
        phase = fields.get("phase", "")
        if phase == "done":
            return fields["final"] if which == "rows" else ""
        done = int(fields.get("done") or 0)
        total = fields.get("rows_total")
        started = self.phase_started.get(str(task.description))
        elapsed = time.monotonic() - started if started is not None else 0.0
        if which == "rows":
            return f"{done:,}/{total:,} rows" if total is not None else f"{done:,}/? rows"
        if which == "rate":
            if not done or elapsed <= 0:
                return "- rows/s"
            rate = done / elapsed
            return f"{rate:,.0f} rows/s" if rate >= 10 else f"{rate:.1f} rows/s"
        return eta_text(phase, done, total, elapsed, self.history)


def _nowrap() -> Column:
    return Column(no_wrap=True, overflow="ellipsis")


class _FigureColumn(ProgressColumn):
    """A progress column whose text the view computes at render time (rows, rate or ETA)."""

    def __init__(self, view: RichRunView, which: str) -> None:
        super().__init__(table_column=_nowrap())
        self.view = view
        self.which = which

    def render(self, task: Task) -> Text:
        return Text(self.view.figure(task, self.which), no_wrap=True, overflow="ellipsis")


def run_view(console: Console, output: str) -> RunView:
    """The view for this console: rich bars on a terminal, lines otherwise."""
    from orchestrator.console import RichConsole

    inner = getattr(console, "inner", console)
    if isinstance(inner, RichConsole):
        return RichRunView(inner.stderr_console)
    return PlainRunView(inner, json_output=output == "json")
