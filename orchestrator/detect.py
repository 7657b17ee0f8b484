"""`diffmig detect`: the changes in the legacy tables a run would sync.

A run syncs the legacy tables its entities read (the `legacy` sources upstream of each mart, in
the project's index). A declared source that no entity reads (a table
staged for a later entity, say) is never synced by a run, so its rows would be reported new after
every run. By default detect analyses the tables some entity reads
and names the others (`unread_tables`); `tables` asks for any declared table explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.catalog import declared_tables
from orchestrator.project_index import load_index
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.sync.engine import TableProgress


def tables_read(
    legacy_tables: Sequence[Sequence[str]], settings: Settings | None = None
) -> tuple[list[str], list[str]]:
    """The declared tables some entity reads, and those none reads (each in declared order),
    given every entity's legacy tables."""
    read = {t for tables in legacy_tables for t in tables}
    declared = [t.name for t in declared_tables(settings)]
    return [t for t in declared if t in read], [t for t in declared if t not in read]


def detect(
    settings: Settings,
    *,
    tables: list[str] | None = None,
    transport: str | None = None,
    progress: Callable[[TableProgress], None] | None = None,
    info: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Counts the new, modified and deleted rows of `tables` (default: every table an entity
    reads) since the last sync and saves the analysis; the report names the unread tables."""
    from orchestrator.sync.engine import SyncEngine

    unread: list[str] = []
    if not tables:
        entities = load_index(settings).entities
        tables, unread = tables_read([e.legacy_tables for e in entities], settings)
    engine = SyncEngine(
        settings,
        transport="copy" if transport is None else transport,
        progress=progress,
        info=info,
    )
    report = engine.run(tables=tables, apply=False).as_dict()
    report["unread_tables"] = unread
    return report
