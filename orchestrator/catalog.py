"""Which legacy tables diffmig mirrors, and what their columns are.

The list of tables is declared once, in the dbt sources of the mirror
(`models/staging/legacy/_legacy__sources.yml`); it is read here as YAML (no dbt import, so
commands start fast). A table's columns are read from the live source catalog, in column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

from orchestrator.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES_FILE = PROJECT_ROOT / "models" / "staging" / "legacy" / "_legacy__sources.yml"
SOURCE_SCHEMA = "public"


@dataclass(frozen=True)
class DeclaredTable:
    name: str
    key: str = "id"


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


def declared_tables(path: Path = SOURCES_FILE) -> list[DeclaredTable]:
    """The mirrored legacy tables, in the order the sources file lists them."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the list of legacy tables from {path}: {exc}",
            hint="run diffmig from the project folder (where dbt_project.yml is)",
        ) from None
    for source in doc.get("sources", []):
        if source.get("name") == "legacy":
            return [
                DeclaredTable(t["name"], (t.get("meta") or {}).get("key", "id"))
                for t in source.get("tables", [])
            ]
    raise ConfigError(f"{path} declares no source named 'legacy'")


def select_tables(wanted: list[str] | None, path: Path = SOURCES_FILE) -> list[DeclaredTable]:
    tables = declared_tables(path)
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
