"""`diffmig schema diff`: how the live schemas moved away from the mapping and from the last run.

Two catalogs are read live:
    source  the declared legacy tables (models/staging/legacy/_legacy__sources.yml, through the
            project's index) in the source's `public` schema: columns (format_type),
            nullability, foreign keys; plus the names of every relation in `public` (to see
            tables that are not mirrored);
    target  the app tables the marts write (the index's marts) in the destination's `public`
            schema, read the same way.
Each is compared with
    (a) the mapping: the columns each mart writes are its owned columns (the index), the legacy
        columns the staging models select and the column lineage are read from the model files
        (sql_lineage.py): a source column that no staging model selects is new to the mapping,
        a column the staging models select that the source lacks is dropped, a column a mart
        writes that the target lacks is dropped;
    (b) the side's last snapshot in the bookkeeping (schema_snapshots): new, dropped and retyped columns,
        nullability, new, changed and dropped foreign keys, new tables in the source's `public`.
The mirror (diffmig_staging) is deliberately not a basis: the sync keeps it equal to the source's
columns, so it says nothing about what the mapping uses.

A retype is judged by `narrowing()`: a shorter varchar, text to varchar, a smaller numeric
precision or scale, a smaller integer, timestamptz to timestamp, a string to a non-string, ... can
lose data; so can dropping a column the mapping reads or writes. Any of them makes the command exit
1. Every new source column gets a recommendation: map it when the app table fed by its legacy
table has a column of the same name the mapping does not fill yet, else carry it into the app
table's `metadata.legacy` (or ignore it: the mirror keeps it either way).

Unless told not to, the run writes docs/schema-notes.md (the target schema, per app table which
legacy column fills each column, the changes and recommendations) and saves one snapshot per side,
which the next run compares with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

from orchestrator import db
from orchestrator.bookkeeping import schema as bookkeeping
from orchestrator.bookkeeping.snapshots import Snapshot, last_snapshot, save_snapshot
from orchestrator.catalog import PROJECT_ROOT, SOURCE_SCHEMA
from orchestrator.project_index import load_index
from orchestrator.settings import Settings
from orchestrator.sql_lineage import Project

TARGET_SCHEMA = "public"
NOTES_FILE = PROJECT_ROOT / "docs" / "schema-notes.md"
SNAPSHOT_FORMAT = 1
SOURCES_YAML = "models/staging/legacy/_legacy__sources.yml"

# --- type changes ---------------------------------------------------------------------------

_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_INT_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}
_STRING = re.compile(
    r"^(character varying|varchar|character|char|bpchar|text|citext)(?:\((\d+)\))?$"
)
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(-?\d+))?\))?$")
_TIMESTAMP = re.compile(r"^timestamp(?:\((\d)\))?(?: (with|without) time zone)?$")
_TIME = re.compile(r"^time(?:\((\d)\))?(?: (with|without) time zone)?$")


@dataclass(frozen=True)
class TypeInfo:
    kind: str  # string, numeric, int, float, timestamp, time, date, bool, json, other
    name: str
    length: int | None = None  # strings: max length (None: unbounded)
    precision: int | None = None  # numeric precision, float 1 (real) / 2 (double), int rank
    scale: int | None = None
    tz: bool = False
    array: bool = False


def parse_type(text: str) -> TypeInfo:
    t = " ".join(text.strip().lower().split())
    array = t.endswith("[]")
    base = t[:-2] if array else t
    m = _STRING.match(base)
    if m:
        length = int(m.group(2)) if m.group(2) else None
        if m.group(1) in ("character", "char", "bpchar") and length is None:
            length = 1
        return TypeInfo("string", m.group(1), length=length, array=array)
    m = _NUMERIC.match(base)
    if m:
        precision = int(m.group(1)) if m.group(1) else None
        scale = int(m.group(2)) if m.group(2) else (0 if precision is not None else None)
        return TypeInfo("numeric", "numeric", precision=precision, scale=scale, array=array)
    if base in _INT_RANK:
        return TypeInfo("int", base, precision=_INT_RANK[base], array=array)
    if base in ("real", "double precision"):
        return TypeInfo("float", base, precision=1 if base == "real" else 2, array=array)
    m = _TIMESTAMP.match(base)
    if m:
        precision = int(m.group(1)) if m.group(1) else 6
        return TypeInfo(
            "timestamp", base, precision=precision, tz=m.group(2) == "with", array=array
        )
    m = _TIME.match(base)
    if m:
        precision = int(m.group(1)) if m.group(1) else 6
        return TypeInfo("time", base, precision=precision, tz=m.group(2) == "with", array=array)
    if base == "date":
        return TypeInfo("date", base, array=array)
    if base == "boolean":
        return TypeInfo("bool", base, array=array)
    if base in ("json", "jsonb"):
        return TypeInfo("json", base, array=array)
    return TypeInfo("other", base, array=array)


def _length(n: int | None) -> str:
    return "unbounded" if n is None else str(n)


def narrowing(old: str, new: str) -> str | None:
    """Why a column retyped from `old` to `new` (format_type texts) can lose data, or None."""
    if old == new:
        return None
    a, b = parse_type(old), parse_type(new)
    if a.array != b.array:
        return "an array became a scalar or the other way round: values do not convert"
    if b.kind == "string" and b.length is None:
        return None  # anything fits in text (its text form)
    if a.kind == "string" and b.kind == "string":
        if a.length is None or (b.length is not None and b.length < a.length):
            return f"length {_length(a.length)} -> {b.length}: longer values are rejected or cut"
        return None
    if b.kind == "string":
        return f"{a.name} values may not fit in {new}"
    if a.kind == "string":
        return f"text that is not a valid {b.name} no longer converts"
    if a.kind == "numeric" and b.kind == "numeric":
        if b.precision is None:
            return None
        if a.precision is None:
            return f"unconstrained numeric -> numeric({b.precision},{b.scale}): values overflow or round"
        a_scale, b_scale = a.scale or 0, b.scale or 0
        reasons = []
        if b_scale < a_scale:
            reasons.append(f"scale {a_scale} -> {b_scale} rounds the fractions")
        if b.precision - b_scale < a.precision - a_scale:
            reasons.append(
                f"integer digits {a.precision - a_scale} -> {b.precision - b_scale}: large values "
                "overflow"
            )
        return "; ".join(reasons) or None
    if a.kind == "int" and b.kind == "int":
        if (b.precision or 0) < (a.precision or 0):
            return f"{a.name} -> {b.name}: large values overflow"
        return None
    if a.kind == "int" and b.kind == "numeric":
        if b.precision is None:
            return None
        if b.precision - (b.scale or 0) < _INT_DIGITS[a.name]:
            return f"{a.name} -> {new}: large values overflow"
        return None
    if a.kind == "numeric" and b.kind == "int":
        return f"numeric -> {b.name}: fractions are rounded, large values overflow"
    if a.kind == "float" and b.kind == "float":
        return (
            "double precision -> real: precision lost"
            if (b.precision or 0) < (a.precision or 0)
            else None
        )
    if a.kind in ("int", "numeric") and b.kind == "float":
        if a.kind == "int" and (a.name == "smallint" or (a.name == "integer" and b.precision == 2)):
            return None
        return f"{a.name} -> {b.name}: digits beyond the float's precision are lost"
    if a.kind == "float" and b.kind in ("int", "numeric"):
        return f"{a.name} -> {b.name}: fractions rounded or values overflow"
    if a.kind == "timestamp" and b.kind == "timestamp":
        reasons = []
        if a.tz and not b.tz:
            reasons.append("timestamptz -> timestamp: the time zone (the instant) is lost")
        if (b.precision or 0) < (a.precision or 0):
            reasons.append(f"fractional seconds {a.precision} -> {b.precision} digits")
        return "; ".join(reasons) or None
    if a.kind == "timestamp" and b.kind == "date":
        return "timestamp -> date: the time of day is lost"
    if a.kind == "timestamp" and b.kind == "time":
        return "timestamp -> time: the date is lost"
    if a.kind == "date" and b.kind == "timestamp":
        return None
    if a.kind == "time" and b.kind == "time":
        if a.tz and not b.tz:
            return "timetz -> time: the zone is lost"
        if (b.precision or 0) < (a.precision or 0):
            return f"fractional seconds {a.precision} -> {b.precision} digits"
        return None
    if a.kind == "json" and b.kind == "json":
        return None
    if a.kind == "bool" and b.kind in ("int", "numeric"):
        return None
    return f"{old} -> {new}: not a widening diffmig knows; values may not convert"


# --- catalogs -------------------------------------------------------------------------------


def read_catalog(conn: psycopg.Connection, schema: str, tables: Sequence[str]) -> dict[str, Any]:
    """Columns and foreign keys of `tables` in `schema` (those that exist), and the names of all
    the schema's relations."""
    relations = [
        r[0]
        for r in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1",
            (schema,),
        ).fetchall()
    ]
    out: dict[str, Any] = {}
    for table, column, type_, notnull, position in conn.execute(
        "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "a.attnum from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where n.nspname = %s and c.relname = any(%s) order by c.relname, a.attnum",
        (schema, list(tables)),
    ).fetchall():
        entry = out.setdefault(table, {"columns": {}, "foreign_keys": {}})
        entry["columns"][column] = {
            "type": type_,
            "nullable": not notnull,
            "position": int(position),
        }
    for name, table, cols, ref_schema, ref_table, ref_cols, on_delete, on_update in conn.execute(
        "select con.conname, c.relname, "
        "array(select a.attname from unnest(con.conkey) with ordinality k(attnum, i) "
        "  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.i), "
        "fn.nspname, fc.relname, "
        "array(select a.attname from unnest(con.confkey) with ordinality k(attnum, i) "
        "  join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.i), "
        "con.confdeltype::text, con.confupdtype::text "
        "from pg_constraint con join pg_class c on c.oid = con.conrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "join pg_class fc on fc.oid = con.confrelid join pg_namespace fn on fn.oid = fc.relnamespace "
        "where con.contype = 'f' and n.nspname = %s and c.relname = any(%s) order by 1",
        (schema, list(tables)),
    ).fetchall():
        if table not in out:
            continue
        ref = ref_table if ref_schema == schema else f"{ref_schema}.{ref_table}"
        out[table]["foreign_keys"][name] = {
            "columns": list(cols),
            "references": f"{ref}({', '.join(ref_cols)})",
            "on_delete": _FK_ACTIONS.get(on_delete, on_delete),
            "on_update": _FK_ACTIONS.get(on_update, on_update),
        }
    return {"format": SNAPSHOT_FORMAT, "schema": schema, "relations": relations, "tables": out}


_FK_ACTIONS = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


def _fk_text(fk: dict[str, Any]) -> str:
    text = f"({', '.join(fk['columns'])}) -> {fk['references']}"
    if fk.get("on_delete") not in (None, "no action"):
        text += f" on delete {fk['on_delete']}"
    return text


# --- the comparison -------------------------------------------------------------------------


@dataclass
class Change:
    side: str  # source | target
    basis: str  # mapping | snapshot
    kind: str  # new_column, dropped_column, retyped_column, nullability, new_table,
    # dropped_table, new_foreign_key, changed_foreign_key, dropped_foreign_key
    table: str
    column: str | None
    detail: str
    severity: str = "info"  # info | warning | error
    data_loss: bool = False
    old: str | None = None
    new: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendation:
    table: str
    column: str
    action: str  # map | metadata | ignore
    target: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Analysis:
    changes: list[Change] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    unmirrored: list[str] = field(default_factory=list)
    app_tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def data_loss(self) -> bool:
        return any(c.data_loss for c in self.changes)


def _columns(catalog: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return dict(catalog.get("tables", {}).get(table, {}).get("columns", {}))


def compare_snapshot(
    side: str,
    old: dict[str, Any],
    new: dict[str, Any],
    tracked: Iterable[str],
    used: dict[str, set[str]],
) -> list[Change]:
    """What changed in `tracked` tables between two catalogs of one side. `used` holds, per
    table, the columns the mapping reads (source) or writes (target)."""
    changes: list[Change] = []
    old_tables, new_tables = old.get("tables", {}), new.get("tables", {})
    for table in sorted(set(tracked) | set(old_tables)):
        if table not in new_tables and table in old_tables:
            changes.append(
                Change(
                    side, "snapshot", "dropped_table", table, None,
                    f"{table} is gone since the snapshot", "error", data_loss=True,
                )
            )  # fmt: skip
            continue
        if table not in old_tables or table not in new_tables:
            continue
        before, after = _columns(old, table), _columns(new, table)
        mapped = used.get(table, set())
        for column in after:
            if column not in before:
                changes.append(
                    Change(
                        side, "snapshot", "new_column", table, column,
                        f"new since the snapshot ({after[column]['type']})",
                        new=after[column]["type"],
                    )
                )  # fmt: skip
        for column in before:
            if column not in after:
                in_use = column in mapped
                changes.append(
                    Change(
                        side, "snapshot", "dropped_column", table, column,
                        "dropped since the snapshot"
                        + ("; the mapping uses it" if in_use else "; the mapping does not use it"),
                        "error" if in_use else "warning", data_loss=in_use,
                        old=before[column]["type"],
                    )
                )  # fmt: skip
        for column in sorted(set(before) & set(after)):
            old_type, new_type = before[column]["type"], after[column]["type"]
            if old_type != new_type:
                risk = narrowing(old_type, new_type)
                detail = f"{old_type} -> {new_type}"
                detail += f": can lose data ({risk})" if risk else ": widening, no data lost"
                changes.append(
                    Change(
                        side, "snapshot", "retyped_column", table, column, detail,
                        "warning" if risk else "info", data_loss=risk is not None,
                        old=old_type, new=new_type,
                    )
                )  # fmt: skip
            if before[column]["nullable"] != after[column]["nullable"]:
                now = "nullable" if after[column]["nullable"] else "not null"
                severity = "warning" if side == "target" and now == "not null" else "info"
                changes.append(
                    Change(
                        side, "snapshot", "nullability", table, column,
                        f"now {now}", severity,
                        old="nullable" if before[column]["nullable"] else "not null", new=now,
                    )
                )  # fmt: skip
        fk_before = old_tables[table].get("foreign_keys", {})
        fk_after = new_tables[table].get("foreign_keys", {})
        for name, fk in fk_after.items():
            if name not in fk_before:
                changes.append(
                    Change(
                        side, "snapshot", "new_foreign_key", table, ", ".join(fk["columns"]),
                        f"new foreign key {name}: {_fk_text(fk)}", new=_fk_text(fk),
                    )
                )  # fmt: skip
            elif fk != fk_before[name]:
                changes.append(
                    Change(
                        side, "snapshot", "changed_foreign_key", table, ", ".join(fk["columns"]),
                        f"foreign key {name}: {_fk_text(fk_before[name])} -> {_fk_text(fk)}",
                        "warning", old=_fk_text(fk_before[name]), new=_fk_text(fk),
                    )
                )  # fmt: skip
        for name, fk in fk_before.items():
            if name not in fk_after:
                changes.append(
                    Change(
                        side, "snapshot", "dropped_foreign_key", table, ", ".join(fk["columns"]),
                        f"foreign key {name} dropped: orphans can appear", "warning",
                        old=_fk_text(fk),
                    )
                )  # fmt: skip
    return changes


def _short_lineage(pairs: Iterable[tuple[str, str]], main: str | None, limit: int = 4) -> list[str]:
    pairs = sorted(pairs)
    preferred = [p for p in pairs if p[0] == main] if main else []
    chosen = preferred or pairs
    names = [f"{t}.{c}" for t, c in chosen[:limit]]
    if len(chosen) > limit:
        names.append(f"+{len(chosen) - limit} more")
    return names


def analyse(
    source_now: dict[str, Any],
    target_now: dict[str, Any],
    source_before: dict[str, Any] | None,
    target_before: dict[str, Any] | None,
    declared: Sequence[str],
    project: Project,
) -> Analysis:
    """The whole comparison, without any database: catalogs in, changes and notes out."""
    result = Analysis()
    source_tables = source_now.get("tables", {})
    target_tables = target_now.get("tables", {})

    # The mapping's view of the source: used columns are computed against the live columns and
    # the snapshot's (so a column dropped since is still known as used).
    known: dict[str, set[str]] = {}
    for catalog in (source_before or {}, source_now):
        for table, entry in catalog.get("tables", {}).items():
            known.setdefault(table, set()).update(entry.get("columns", {}))
    project.use_source_columns(known)
    used = project.used_source_columns()
    project.use_source_columns({t: set(_columns(source_now, t)) for t in source_tables})
    missing = project.missing_source_columns()

    for table in declared:
        if table not in source_tables:
            result.changes.append(
                Change(
                    "source", "mapping", "dropped_table", table, None,
                    f"declared in {SOURCES_YAML} but missing in the source", "error",
                    data_loss=True,
                )
            )  # fmt: skip
            continue
        live = _columns(source_now, table)
        unused = [c for c in live if c not in used.get(table, set())]
        if unused:
            result.unmapped[table] = unused
        for column in unused:
            result.changes.append(
                Change(
                    "source", "mapping", "new_column", table, column,
                    f"not used by the mapping ({live[column]['type']}); the mirror copies it",
                    new=live[column]["type"],
                )
            )  # fmt: skip
        for column in sorted(missing.get(table, set())):
            result.changes.append(
                Change(
                    "source", "mapping", "dropped_column", table, column,
                    "the staging models select it, the source no longer has it", "error",
                    data_loss=True,
                )
            )  # fmt: skip
    result.unmirrored = [r for r in source_now.get("relations", []) if r not in set(declared)]

    # The marts' view of the target.
    written: dict[str, set[str]] = {}
    for mart in project.marts:
        columns = project.mart_columns(mart)
        live_target = _columns(target_now, mart)
        if mart not in target_tables:
            result.changes.append(
                Change(
                    "target", "mapping", "dropped_table", mart, None,
                    f"models/marts/supabase/{mart}.sql writes it; the target has no public.{mart}",
                    "error", data_loss=True,
                )
            )  # fmt: skip
            continue
        writes = list(live_target) if columns is None else columns
        written[mart] = set(writes)
        for column in writes:
            if column not in live_target:
                result.changes.append(
                    Change(
                        "target", "mapping", "dropped_column", mart, column,
                        f"the mart writes it; public.{mart} has no such column", "error",
                        data_loss=True,
                    )
                )  # fmt: skip

    # The snapshots.
    if source_before is not None:
        result.changes += compare_snapshot("source", source_before, source_now, declared, used)
        old_relations = set(source_before.get("relations", []))
        for relation in source_now.get("relations", []):
            if relation not in old_relations and relation not in set(declared):
                result.changes.append(
                    Change(
                        "source", "snapshot", "new_table", relation, None,
                        f"new in the source's public schema and not mirrored (not in "
                        f"{SOURCES_YAML})",
                    )
                )  # fmt: skip
    if target_before is not None:
        result.changes += compare_snapshot(
            "target", target_before, target_now, project.marts, written
        )

    # Lineage and notes per app table.
    main_tables = {mart: project.main_legacy_tables(mart) for mart in project.marts}
    for mart in project.marts:
        if mart not in target_tables:
            continue
        main = main_tables[mart][0] if main_tables[mart] else None
        notes: list[dict[str, Any]] = []
        for name, info in _columns(target_now, mart).items():
            is_written = name in written.get(mart, set())
            pairs = project.lineage(mart, name) if is_written else frozenset()
            notes.append(
                {
                    "name": name,
                    "type": info["type"],
                    "nullable": info["nullable"],
                    "written": is_written,
                    "filled_from": _short_lineage(pairs, main),
                }
            )
        result.app_tables.append(
            {
                "table": mart,
                "legacy_table": main,
                "legacy_tables": main_tables[mart],
                "columns": notes,
            }
        )

    # Recommendations for every new source column (against the mapping or the snapshot).
    seen: set[tuple[str, str]] = set()
    for change in result.changes:
        if change.side != "source" or change.kind != "new_column" or change.column is None:
            continue
        key = (change.table, change.column)
        if key in seen:
            continue
        seen.add(key)
        result.recommendations.append(
            recommend(change.table, change.column, change.new or "", main_tables, target_now,
                      written, project)
        )  # fmt: skip
    return result


def recommend(
    table: str,
    column: str,
    source_type: str,
    main_tables: dict[str, list[str]],
    target_now: dict[str, Any],
    written: dict[str, set[str]],
    project: Project,
) -> Recommendation:
    """What to do with a legacy column the mapping does not use."""
    fed = [m for m, t in main_tables.items() if table in t and m in target_now.get("tables", {})]
    # The mart whose main legacy table it is comes first.
    fed.sort(key=lambda m: main_tables[m].index(table))
    staging = ", ".join(project.staging_models().get(table, [])) or "its staging model"
    for mart in fed:
        target_cols = _columns(target_now, mart)
        if column not in target_cols:
            continue
        filled = project.lineage(mart, column) if column in written.get(mart, set()) else set()
        if filled:
            continue
        target_type = target_cols[column]["type"]
        risk = narrowing(source_type, target_type) if source_type else None
        caveat = f" (note: {risk})" if risk else ""
        return Recommendation(
            table,
            column,
            "map",
            f"{mart}.{column}",
            f"{table}.{column} -> {mart}.{column} ({target_type}) exists in the target and the "
            f"mapping does not fill it: map it (select it in {staging}, carry it through the "
            f"intermediate model, write it in models/marts/supabase/{mart}.sql){caveat}",
        )
    for mart in fed:
        if "metadata" in _columns(target_now, mart):
            return Recommendation(
                table,
                column,
                "metadata",
                f"{mart}.metadata.legacy.{column}",
                f"no column of {mart} matches: it stays in the mirror (diffmig_staging.{table}); "
                f"carry it into {mart}.metadata -> 'legacy' -> '{column}' if the app needs it, "
                "or ignore it",
            )
    return Recommendation(
        table,
        column,
        "ignore",
        None,
        f"no app table is mapped from {table} (with a metadata column): it stays in the mirror "
        "only; map it when an app table needs it",
    )


# --- the notes ------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_notes(report: dict[str, Any]) -> str:
    lines = [
        "# Schema notes: the Supabase target and where its columns come from",
        "",
        f"Generated by `diffmig schema diff` on {report['generated_at']} (regenerated on every "
        "run; do not edit by hand).",
        "",
        f"- source: {report['source']['database']}, {report['source']['tables']} declared legacy "
        f"tables; compared with snapshot {_snap(report['source']['previous_snapshot'])}",
        f"- target: {report['target']['database']}, {report['target']['tables']} app tables; "
        f"compared with snapshot {_snap(report['target']['previous_snapshot'])}",
        "",
        "Lineage is read from the dbt models (`orchestrator/sql_lineage.py`): every legacy column "
        'an expression mentions counts, so conditions show up too; "computed" means no legacy '
        "column was found (keys issued by diffmig, constants, values derived by macros).",
        "",
        "## Changes found",
        "",
    ]
    changes = report["changes"]
    if changes:
        lines += [
            "| side | basis | change | table | column | detail | severity | can lose data |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['side']} | {c['basis']} | {c['kind']} | {c['table']} | {c['column'] or ''} | "
            f"{_cell(c['detail'])} | {c['severity']} | {'yes' if c['data_loss'] else 'no'} |"
            for c in changes
        ]
    else:
        lines.append("None.")
    lines += ["", "## Recommendations", ""]
    if report["recommendations"]:
        lines += [
            f"- **{r['table']}.{r['column']}** ({r['action']}): {_cell(r['detail'])}"
            for r in report["recommendations"]
        ]
    else:
        lines.append("None.")
    lines += ["", "## Source tables not mirrored", ""]
    lines.append(
        ", ".join(f"`{t}`" for t in report["unmirrored_tables"])
        if report["unmirrored_tables"]
        else "None: every table in the source's public schema is declared."
    )
    lines += ["", "## App tables", ""]
    for app in report["app_tables"]:
        legacy = (
            " (mapped from " + ", ".join(f"`{t}`" for t in app["legacy_tables"]) + ")"
            if app["legacy_tables"]
            else ""
        )
        lines += [
            f"### {app['table']}{legacy}",
            "",
            "| column | type | null | filled from |",
            "|---|---|---|---|",
        ]
        for col in app["columns"]:
            if not col["written"]:
                source = "not written by the mapping (app-owned)"
            elif col["filled_from"]:
                source = ", ".join(f"`{s}`" if "." in s else s for s in col["filled_from"])
            else:
                source = "computed"
            lines.append(
                f"| {col['name']} | {_cell(col['type'])} | {'yes' if col['nullable'] else 'no'} "
                f"| {source} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _snap(snapshot: dict[str, Any] | None) -> str:
    if not snapshot:
        return "none (first run: this run records the baseline)"
    return f"{snapshot['snapshot_id']} of {snapshot['taken_at']}"


# --- the command's core ---------------------------------------------------------------------


def run_schema_diff(
    settings: Settings,
    *,
    write: bool = True,
    notes_path: Path | None = None,
    project: Project | None = None,
) -> dict[str, Any]:
    """Read both catalogs, compare them with the mapping and the last snapshots, and (unless
    `write` is false) write the notes and save a new snapshot per side."""
    index = load_index(settings)
    declared = [t.name for t in index.legacy_tables]
    project = project or Project(index)
    with db.connection(settings.source) as src:
        source_now = read_catalog(src, SOURCE_SCHEMA, declared)
    with db.connection(settings.target) as dst:
        target_now = read_catalog(dst, TARGET_SCHEMA, project.marts)
        source_before = last_snapshot(dst, "source")
        target_before = last_snapshot(dst, "target")
        analysis = analyse(
            source_now,
            target_now,
            source_before.catalog if source_before else None,
            target_before.catalog if target_before else None,
            declared,
            project,
        )
        report: dict[str, Any] = {
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "source": {
                "database": settings.source.describe(),
                "tables": len(source_now["tables"]),
                "previous_snapshot": _snapshot_doc(source_before),
                "saved_snapshot": None,
            },
            "target": {
                "database": settings.target.describe(),
                "tables": len(target_now["tables"]),
                "previous_snapshot": _snapshot_doc(target_before),
                "saved_snapshot": None,
            },
            "changes": [c.as_dict() for c in analysis.changes],
            "recommendations": [r.as_dict() for r in analysis.recommendations],
            "unmapped_columns": analysis.unmapped,
            "unmirrored_tables": analysis.unmirrored,
            "app_tables": analysis.app_tables,
            "data_loss": analysis.data_loss,
            "notes": None,
        }
        if write:
            bookkeeping.ensure_schema(dst)
            with dst.transaction():
                report["source"]["saved_snapshot"] = save_snapshot(dst, "source", source_now)
                report["target"]["saved_snapshot"] = save_snapshot(dst, "target", target_now)
    if write:
        path = notes_path or NOTES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_notes(report), encoding="utf-8")
        report["notes"] = str(path)
    return report


def _snapshot_doc(snapshot: Snapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {"snapshot_id": snapshot.snapshot_id, "taken_at": snapshot.taken_at}
