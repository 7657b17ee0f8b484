"""The events of a `diffmig run` (runner.py), for the console layer (progress.py) and the log
file (runlog.py): a small set of frozen dataclasses, each with its `kind`, the name its log
line bears. Every event carries the run's id once the run has one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

# What a field of an event may hold (a log line writes it as JSON).
Value = str | int | float | tuple[str, ...] | None


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    kind: ClassVar[str] = "event"
    run_id: int = 0

    def fields(self) -> dict[str, Value]:
        """The event's figures in their order, with its run (when it has one) first."""
        found: dict[str, Value] = {"run_id": self.run_id} if self.run_id else {}
        for item in dataclasses.fields(self):
            if item.name != "run_id":
                found[item.name] = getattr(self, item.name)
        return found

    def as_dict(self) -> dict[str, Value]:
        """The event as one mapping, `kind` included (as the log line has it)."""
        fields = self.fields()
        run = {"run_id": fields.pop("run_id")} if "run_id" in fields else {}
        return {**run, "kind": self.kind, **fields}


@dataclass(frozen=True, kw_only=True)
class RunStarted(RunEvent):
    kind: ClassVar[str] = "run_started"
    entities: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SyncPhase(RunEvent):
    """An entity's sync starts: its legacy tables not synced yet, their expected rows."""

    kind: ClassVar[str] = "phase"
    entity: str
    phase: str = "sync"
    tables: tuple[str, ...]
    rows_total: int | None


@dataclass(frozen=True, kw_only=True)
class BuildPhase(RunEvent):
    """An entity's build starts: the rows its sync changed, the mirror rows it will map."""

    kind: ClassVar[str] = "phase"
    entity: str
    phase: str = "build"
    rows_synced: int
    rows_total: int | None


@dataclass(frozen=True, kw_only=True)
class SyncProgress(RunEvent):
    """After each batch of a table's ranges: the entity's rows checked of its total."""

    kind: ClassVar[str] = "progress"
    entity: str | None
    phase: str = "sync"
    table: str
    rows_done: int
    rows_total: int
    rows_changed: int


@dataclass(frozen=True, kw_only=True)
class BuildProgress(RunEvent):
    """After each dbt node of an entity's build."""

    kind: ClassVar[str] = "progress"
    entity: str
    phase: str = "build"
    node: str
    node_status: str
    nodes_done: int
    rows_done: int | None
    rows_applied: int | None


@dataclass(frozen=True, kw_only=True)
class RowIssueFound(RunEvent):
    """An open row issue the entity's build recorded in this run."""

    kind: ClassVar[str] = "row_issue"
    entity: str
    table: str | None
    legacy_key: str
    severity: str
    reason: str
    detail: str | None


@dataclass(frozen=True, kw_only=True)
class RowIssuesOmitted(RunEvent):
    """The issues of a reason past those logged one by one."""

    kind: ClassVar[str] = "row_issues_omitted"
    entity: str
    severity: str
    reason: str
    logged: int
    omitted: int


@dataclass(frozen=True, kw_only=True)
class RowIssueReasonCounted(RunEvent):
    """The entity's open issues of one reason in this run, with what to do about them (from the
    issue catalogue, seeds/issue_reasons.csv): a line per reason, not per row."""

    kind: ClassVar[str] = "row_issue_reason"
    entity: str
    severity: str
    reason: str
    rows: int
    what_to_do: str


@dataclass(frozen=True, kw_only=True)
class RowIssuesCounted(RunEvent):
    """The entity's open issues of this run: errors (rows held back) and warnings."""

    kind: ClassVar[str] = "row_issues"
    entity: str
    errors: int
    warnings: int


@dataclass(frozen=True, kw_only=True)
class EntityDone(RunEvent):
    kind: ClassVar[str] = "entity_done"
    entity: str
    rows_applied: int
    rows_synced: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class RunFinished(RunEvent):
    kind: ClassVar[str] = "run_finished"
    status: str
    seconds: float
    # The destination API's schema-cache reloads while the run worked (None: not measured).
    schema_reloads: int | None = None


Events = Callable[[RunEvent], None]
