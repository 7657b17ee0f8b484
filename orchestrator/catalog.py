"""Which legacy tables diffmig mirrors, and what their columns are.

The list of tables is declared once, in the dbt sources of the mirror
(`models/staging/legacy/_legacy__sources.yml`), and read through the project's index
(project_index.py: cached, so commands start fast). A table's columns are read from the live
source catalog, in column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from orchestrator.errors import ConfigError
from orchestrator.project_index import PROJECT_ROOT, load_index
from orchestrator.project_index import LegacyTable as DeclaredTable

if TYPE_CHECKING:
    from orchestrator.settings import Settings

__all__ = [
    "PROJECT_ROOT",
    "SOURCE_SCHEMA",
    "Column",
    "DeclaredTable",
    "SourceTable",
    "declared_tables",
    "read_source_table",
    "select_tables",
]
SOURCE_SCHEMA = "public"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(), e.g. 'character varying(150)'


@dataclass(frozen=True)
class SourceTable:
    name: str
    key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def declared_tables(settings: Settings | None = None) -> list[DeclaredTable]:
    """The mirrored legacy tables, in the order the sources file lists them."""
    tables = list(load_index(settings).legacy_tables)
    if not tables:
        raise ConfigError(
            "the dbt project declares no tables in its source 'legacy'",
            hint="list the mirrored tables in models/staging/legacy/_legacy__sources.yml",
        )
    return tables


def select_tables(
    wanted: list[str] | None, settings: Settings | None = None
) -> list[DeclaredTable]:
    tables = declared_tables(settings)
    if not wanted:
        return tables
    by_name = {t.name: t for t in tables}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise ConfigError(
            f"not a mirrored legacy table: {', '.join(unknown)}",
            hint=f"choose among: {', '.join(by_name)}",
        )
    return [by_name[w] for w in wanted]


def read_source_table(conn: psycopg.Connection, table: DeclaredTable) -> SourceTable:
    """A table's live columns in the source, in column order."""
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (SOURCE_SCHEMA, table.name),
    ).fetchall()
    if not rows:
        raise ConfigError(
            f"the source has no table {SOURCE_SCHEMA}.{table.name}",
            hint="check SOURCE_DB_NAME, or remove the table from _legacy__sources.yml",
        )
    columns = tuple(Column(name, type_) for name, type_ in rows)
    if table.key not in {c.name for c in columns}:
        raise ConfigError(f"{table.name} has no key column {table.key!r}")
    return SourceTable(table.name, table.key, columns)
