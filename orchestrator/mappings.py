"""`diffmig mappings check` and `diffmig mappings repair`: public.migration_mappings against the
target tables.

Which entity types have mappings, and where their rows live, is declared once, in the marts'
YAML: a mart whose `config.meta.diffmig` has `mapping_entity_type` (e.g. offices.yml:
`mapping_entity_type: office`, `legacy_key: legacy_office_id`) maps that entity type to its table
(the mart, named as the Supabase table) and legacy key column. The YAML is read directly, without
dbt (orchestrator.marts.entity_specs, the same reader `diffmig baseline` uses), so the commands
start fast. Entity types no mart declares (the earlier scripts' patient_profile, doctor_office,
...) are reported as undeclared and left alone.

The target tables are the truth: a target row carrying a legacy key owns that key's UUID (an
issued UUID never changes). Every check (and every repair action) is one set-based statement
over temporary tables built once per invocation (mm_rows: the declared tables' ids and legacy
keys; mm_map: the mappings with their junk flag and what the target says about them), inside
one REPEATABLE READ transaction. `entities` (--entities) limits both to some entity types; the
undeclared types are then not listed, and repair's --delete-junk removes only their junk.

The earlier scripts' documented conventions (docs/decisions/adr-0010-earlier-scripts-conventions.md)
are declared in the marts' YAML too (`mapping_conventions`: name, entity_type, column): a mapping
of that entity type whose new_id is that column's value in the row carrying its key (e.g. an
August 'patient' row holding patients.profile_id) is one finding named for the convention
(e.g. patient_maps_to_profile), never a violation nor any other problem. Real damage (junk,
dangling UUIDs, cross-type lures, another row's UUID) is reported as before.

Problems (`check`), per entity type:
  junk                   the junk rule of stg_bookkeeping__migration_mappings: legacy_id missing
                         or not positive, new_id missing, placeholder UUID (one repeated hex
                         digit, e.g. all zeros). Never trusted, compared with nothing. Expected
                         leftovers of the earlier scripts: reported, not a violation (unless
                         --fail-on-junk). The rule's fourth part, a new_id shared by several
                         mappings, is reported as duplicate_new_id, because the target tables can
                         arbitrate it.
  undeclared_entity_type a non-junk mapping of an entity type no mart declares: not checkable;
                         reported, not a violation, never changed by repair.
  duplicate_new_id       a new_id held by several (non-junk, declared) mappings, not all of which
                         are right: the wrong holders are listed (the detail names the right one,
                         if any). Mappings of different entity types that each point at their own
                         row correctly may share a UUID.
  duplicate_legacy_key   the same legacy key mapped under several entity types to the same target
                         row, which is not this type's row (e.g. an August 'patient' row holding
                         the UUID of the profiles row its 'patient_profile' row maps).
  dangling               a non-junk new_id that is no row of the entity type's table (a deleted
                         row, a failed insert, a stale UUID).
  new_id_of_another_row  the new_id is a row of the table that carries another legacy key (or
                         none): swapped or reused UUIDs.
  missing_mapping        a target row with a legacy key and no non-junk mapping of its type.

Actions (`repair`; a dry run unless apply=True, then one transaction):
  fix          a mapping whose key is carried by a target row, with another new_id (dangling,
               another row's UUID, or a junk row occupying the key; a convention's row only with
               rewrite_conventions, and only of a type a mart declares): new_id := the row's id,
               migration_batch := 'diffmig-repair-<UTC timestamp>', migrated_at := now (UTC).
  delete       a non-junk mapping of a declared type whose key no target row carries and whose
               new_id is not that key's row (dangling or another row's UUID): removed (the
               mapping table is rebuilt from the target tables; a key migrated later gets its
               mapping from the migration_mappings mart).
  add          a target row with a legacy key and no mapping of its type: inserted.
  delete_junk  junk rows (not fixed above): removed only with delete_junk=True; otherwise kept
               and counted as `junk_kept`.
Duplicates need no action of their own: once every declared mapping is right, none is left.
Only public.migration_mappings is written; the app tables are only read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import db
from orchestrator.bookkeeping import schema as bookkeeping_schema
from orchestrator.errors import ConfigError, RunFailed
from orchestrator.marts import entity_specs
from orchestrator.settings import Settings

MAPPINGS_TABLE = sql.Identifier("public", "migration_mappings")
SAMPLE_ROWS = 20

# Problems that make `mappings check` (and `validate`) fail; junk and undeclared types are
# reported only (junk fails too with fail_on_junk).
VIOLATIONS = (
    "duplicate_new_id",
    "duplicate_legacy_key",
    "dangling",
    "new_id_of_another_row",
    "missing_mapping",
)
LEFTOVERS = ("junk", "undeclared_entity_type")
PROBLEMS = (*LEFTOVERS, *VIOLATIONS)
ACTIONS = ("fix", "delete", "add", "delete_junk")

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class MappedEntity:
    """One entity type of migration_mappings: its target table and legacy key column."""

    entity_type: str
    table: str  # the mart, named as the public table
    key_column: str
    # the table holds several rows of some keys (the mart declares duplicate_targets:
    # keep_oldest): the key's row is its oldest (created_at, then id), as the mart maintains it
    keep_oldest: bool = False


@dataclass(frozen=True)
class Convention:
    """An earlier scripts' documented convention: mappings of `entity_type` whose new_id is the
    `column` of the `table` row carrying their key (by `key_column`)."""

    name: str
    entity_type: str
    table: str
    key_column: str
    column: str


def conventions() -> list[Convention]:
    """The conventions the marts' YAML declares (config.meta.diffmig.mapping_conventions)."""
    from orchestrator.baseline import entity_specs

    found: list[Convention] = []
    for spec in entity_specs():
        for item in spec.mapping_conventions:
            values = [item.get(k) for k in ("name", "entity_type", "column")]
            values.append(spec.legacy_key)
            if not all(isinstance(v, str) and _IDENTIFIER.fullmatch(v) for v in values):
                raise ConfigError(
                    f"mart {spec.entity} declares a mapping convention without a valid name, "
                    f"entity_type, column or legacy_key: {item}",
                    hint="each config.meta.diffmig.mapping_conventions item needs name, "
                    "entity_type and column (identifiers), and the mart a legacy_key",
                )
            found.append(
                Convention(
                    item["name"],
                    item["entity_type"],
                    spec.entity,
                    str(spec.legacy_key),
                    item["column"],
                )
            )
    return found


def mapped_entities() -> list[MappedEntity]:
    """The declared entity types, in the marts' dependency order (from the marts' YAML)."""
    found: list[MappedEntity] = []
    seen: dict[str, str] = {}
    for spec in entity_specs():
        entity_type = spec.mapping_entity_type
        if not entity_type:
            continue
        key = spec.legacy_key or ""
        if not _IDENTIFIER.fullmatch(key):
            raise ConfigError(
                f"mart {spec.entity} declares mapping_entity_type {entity_type!r} but its "
                f"legacy_key {key!r} is not a column",
                hint="a mapped mart needs config.meta.diffmig.legacy_key: its legacy_*_id column",
            )
        if entity_type in seen:
            raise ConfigError(
                f"entity type {entity_type!r} is declared by two marts: {seen[entity_type]} and "
                f"{spec.entity}",
                hint="each mapping_entity_type belongs to one mart",
            )
        seen[entity_type] = spec.entity
        found.append(
            MappedEntity(
                entity_type, spec.entity, key, keep_oldest=spec.duplicate_targets == "keep_oldest"
            )
        )
    return found


def select_entities(
    wanted: Sequence[str] | None, declared: Sequence[MappedEntity] | None = None
) -> list[MappedEntity]:
    """The declared entity types named in `wanted` (entity types or mart names; None: all)."""
    catalogue = list(mapped_entities() if declared is None else declared)
    if not catalogue:
        raise ConfigError(
            "no mart declares a mapping entity type",
            hint="add config.meta.diffmig.mapping_entity_type (and legacy_key) to the marts' "
            "YAML, as models/marts/supabase/offices.yml does",
        )
    if not wanted:
        return catalogue
    chosen: list[MappedEntity] = []
    unknown: list[str] = []
    for name in wanted:
        match = [e for e in catalogue if name in (e.entity_type, e.table)]
        if match:
            chosen.extend(m for m in match if m not in chosen)
        else:
            unknown.append(name)
    if unknown:
        raise ConfigError(
            f"no mart declares the mapping entity type {', '.join(unknown)}",
            hint="choose among: " + ", ".join(f"{e.entity_type} ({e.table})" for e in catalogue),
        )
    return chosen


# --- reports -------------------------------------------------------------------------------------


@dataclass
class Finding:
    """One (entity type, problem or action) group: its count, every key, the first rows."""

    entity_type: str
    kind: str
    count: int
    keys: list[int]
    samples: list[dict[str, Any]]

    def as_dict(self, kind_name: str) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            kind_name: self.kind,
            "count": self.count,
            "keys": self.keys,
            "samples": self.samples,
        }


@dataclass
class CheckReport:
    entities: list[dict[str, Any]]
    findings: list[Finding]
    fail_on_junk: bool = False
    undeclared_reported: bool = True
    seconds: float = 0.0

    def count(self, problem: str, entity_type: str | None = None) -> int:
        return sum(
            f.count
            for f in self.findings
            if f.kind == problem and (entity_type is None or f.entity_type == entity_type)
        )

    @property
    def failing(self) -> list[Finding]:
        kinds = set(VIOLATIONS) | ({"junk"} if self.fail_on_junk else set())
        return [f for f in self.findings if f.kind in kinds]

    @property
    def violations(self) -> int:
        return sum(f.count for f in self.failing)

    def as_dict(self) -> dict[str, Any]:
        totals = {p: self.count(p) for p in PROBLEMS}
        return {
            "entity_types": self.entities,
            "problems": [f.as_dict("problem") for f in self.findings],
            "totals": totals,
            # The earlier scripts' documented conventions, per row (not violations).
            "conventions": {
                f.kind: self.count(f.kind) for f in self.findings if f.kind not in PROBLEMS
            },
            "violations": self.violations,
            "junk_fails": self.fail_on_junk,
            "clean": self.violations == 0,
            "elapsed_s": round(self.seconds, 3),
        }


@dataclass
class RepairReport:
    batch: str
    applied: bool
    delete_junk: bool
    entities: list[dict[str, Any]]
    findings: list[Finding]
    junk_kept: int = 0
    rows_changed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rewrite_conventions: bool = False
    conventions_kept: int = 0

    def count(self, action: str, entity_type: str | None = None) -> int:
        return sum(
            f.count
            for f in self.findings
            if f.kind == action and (entity_type is None or f.entity_type == entity_type)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "batch": self.batch,
            "delete_junk": self.delete_junk,
            "rewrite_conventions": self.rewrite_conventions,
            "conventions_kept": self.conventions_kept,
            "entity_types": self.entities,
            "actions": [f.as_dict("action") for f in self.findings],
            "totals": {a: self.count(a) for a in ACTIONS},
            "junk_kept": self.junk_kept,
            "rows_changed": self.rows_changed,
            "elapsed_s": round(self.seconds, 3),
        }


# --- the shared preparation ----------------------------------------------------------------------

# The junk rule, declared once as diffmig.mapping_junk_reason (bookkeeping DDL
# 0007_mapping_junk_reason.sql; the dbt macro mapping_junk_reason calls it too; the shared-new_id
# part is the duplicate_new_id problem), over alias `m`. Also what `diffmig baseline` counts as
# junk, so both commands agree.
JUNK_REASON_SQL = "diffmig.mapping_junk_reason(m.legacy_id, m.new_id)"


def _kept_rows(entity: MappedEntity) -> sql.Composable:
    """The rows of a table holding several rows of some keys, one per key: the oldest
    (created_at, then id, as the mart's kept_target_rows), plus the rows without a key."""
    return sql.SQL(
        "(select * from (select t.*, row_number() over (partition by t.{key} "
        "order by t.created_at, t.id) as copy_rank from {table} as t) as ranked "
        "where ranked.{key} is null or ranked.copy_rank = 1)"
    ).format(key=sql.Identifier(entity.key_column), table=sql.Identifier("public", entity.table))


def _prepare(
    conn: psycopg.Connection,
    entities: Sequence[MappedEntity],
    scoped: bool,
    known: Sequence[Convention] = (),
) -> None:
    """Temporary tables (dropped at the end of the transaction):
    mm_conv       the conventions' (name, entity_type, legacy_id, new_id): what a mapping that
                  follows one holds (only those of the marts in scope)
    mm_catalogue  the declared entity types in scope, with their table and key column
    mm_rows       every row of their tables: entity_type, legacy_id (null when the row has none),
                  row_id
    mm_map        every mapping (of the types in scope, or all when not scoped), classified:
                  junk_reason, declared, key_row_id (the row carrying its key), id_in_table and
                  id_row_key (the row whose id is its new_id, and that row's key), ok,
                  convention (the name of the convention it follows, if any)
    """
    _require_columns(conn, entities)
    tables = {e.table for e in entities}
    chosen = [c for c in known if c.table in tables]
    conv_parts: list[sql.Composable] = [
        sql.SQL(
            "select {name}::text as name, {etype}::text as entity_type, "
            "t.{key}::bigint as legacy_id, t.{column} as new_id from {table} as t "
            "where t.{key} is not null and t.{column} is not null"
        ).format(
            name=sql.Literal(c.name),
            etype=sql.Literal(c.entity_type),
            key=sql.Identifier(c.key_column),
            column=sql.Identifier(c.column),
            table=sql.Identifier("public", c.table),
        )
        for c in chosen
    ] or [
        sql.SQL(
            "select null::text as name, null::text as entity_type, null::bigint as legacy_id, "
            "null::uuid as new_id where false"
        )
    ]
    conn.execute(
        sql.SQL("create temp table mm_conv on commit drop as {}").format(
            sql.SQL(" union all ").join(conv_parts)
        )
    )
    conn.execute("create index on mm_conv (entity_type, legacy_id)")
    conn.execute(
        "create temp table mm_catalogue (entity_type text primary key, table_name text not null,"
        " key_column text not null, position integer not null) on commit drop"
    )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into mm_catalogue values (%s, %s, %s, %s)",
            [(e.entity_type, e.table, e.key_column, i) for i, e in enumerate(entities)],
        )
    parts = [
        sql.SQL(
            "select {etype}::text as entity_type, t.{key}::bigint as legacy_id, t.id as row_id "
            "from {table} as t"
        ).format(
            etype=sql.Literal(e.entity_type),
            key=sql.Identifier(e.key_column),
            table=sql.Identifier("public", e.table) if not e.keep_oldest else _kept_rows(e),
        )
        for e in entities
    ]
    conn.execute(
        sql.SQL("create temp table mm_rows on commit drop as {}").format(
            sql.SQL(" union all ").join(parts)
        )
    )
    conn.execute("create index on mm_rows (entity_type, legacy_id)")
    conn.execute("create index on mm_rows (row_id)")
    conn.execute("analyze mm_rows")
    scope = (
        "where m.entity_type in (select entity_type from mm_catalogue "
        "union select entity_type from mm_conv)"
        if scoped
        else ""
    )
    conn.execute(
        f"""
            create temp table mm_map on commit drop as
            with classified as (
                select
                    m.entity_type::text as entity_type,
                    m.legacy_id::bigint as legacy_id,
                    m.new_id,
                    m.migration_batch::text as migration_batch,
                    {JUNK_REASON_SQL} as junk_reason,
                    c.entity_type is not null as declared,
                    key_row.row_id as key_row_id,
                    id_row.row_id is not null as id_in_table,
                    id_row.legacy_id as id_row_key,
                    (
                        select min(conv.name) from mm_conv as conv
                        where conv.entity_type = m.entity_type
                            and conv.legacy_id = m.legacy_id and conv.new_id = m.new_id
                    ) as convention
                from public.migration_mappings as m
                left join mm_catalogue as c on c.entity_type = m.entity_type
                left join mm_rows as key_row
                    on key_row.entity_type = m.entity_type and key_row.legacy_id = m.legacy_id
                left join mm_rows as id_row
                    on id_row.entity_type = m.entity_type and id_row.row_id = m.new_id
                {scope}
            )
            select
                classified.*,
                classified.declared
                    and classified.convention is null
                    and classified.junk_reason is null
                    and classified.id_in_table
                    and classified.id_row_key = classified.legacy_id as ok
            from classified
        """
    )
    conn.execute("create index on mm_map (entity_type, legacy_id)")
    conn.execute("create index on mm_map (new_id)")
    conn.execute("analyze mm_map")


def _require_columns(conn: psycopg.Connection, entities: Sequence[MappedEntity]) -> None:
    present = {
        (str(t), str(c))
        for t, c in conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'public'"
        ).fetchall()
    }
    if ("migration_mappings", "new_id") not in present:
        raise ConfigError(
            "the target has no public.migration_mappings table",
            hint="check TARGET_DB_* (it is the earlier scripts' table; diffmig keeps it up to date)",
        )
    missing = [
        f"public.{e.table}.{column}"
        for e in entities
        for column in ("id", e.key_column)
        if (e.table, column) not in present
    ]
    if missing:
        raise ConfigError(
            f"the target lacks {', '.join(missing)}",
            hint="the marts' YAML (config.meta.diffmig.legacy_key) must name the table's legacy "
            "key column",
        )


# One statement per problem: (entity_type, legacy_id, new_id, detail) rows.
_PROBLEM_SQL: dict[str, str] = {
    "junk": """
        select m.entity_type, m.legacy_id, m.new_id, m.junk_reason as detail
        from mm_map as m
        where m.junk_reason is not null
    """,
    "undeclared_entity_type": """
        select m.entity_type, m.legacy_id, m.new_id,
            'no mart declares this entity type (config.meta.diffmig.mapping_entity_type)'
                as detail
        from mm_map as m
        where m.junk_reason is null and not m.declared and m.convention is null
    """,
    "duplicate_new_id": """
        with shared as (
            select
                m.new_id,
                string_agg(m.entity_type || ' ' || m.legacy_id, ', '
                    order by m.entity_type, m.legacy_id) as holders,
                string_agg(m.entity_type || ' ' || m.legacy_id, ', '
                    order by m.entity_type, m.legacy_id) filter (where m.ok) as right_holder
            from mm_map as m
            where m.declared and m.junk_reason is null and m.convention is null
            group by m.new_id
            having count(*) > 1 and not bool_and(m.ok)
        )
        select m.entity_type, m.legacy_id, m.new_id,
            'held by ' || shared.holders
                || coalesce('; it belongs to ' || shared.right_holder, '') as detail
        from mm_map as m
        join shared on shared.new_id = m.new_id
        where m.declared and m.junk_reason is null and not m.ok and m.convention is null
    """,
    "duplicate_legacy_key": """
        select a.entity_type, a.legacy_id, a.new_id,
            'the same row of ' || c.table_name || ' as the '
                || string_agg(b.entity_type, ', ' order by b.entity_type)
                || ' mapping of key ' || a.legacy_id as detail
        from mm_map as a
        join mm_map as b
            on b.legacy_id = a.legacy_id and b.new_id = a.new_id
            and b.entity_type <> a.entity_type and b.junk_reason is null
        join mm_rows as r on r.row_id = a.new_id
        join mm_catalogue as c on c.entity_type = r.entity_type
        where a.declared and a.junk_reason is null and not a.ok and a.convention is null
        group by a.entity_type, a.legacy_id, a.new_id, c.table_name
    """,
    "dangling": """
        select m.entity_type, m.legacy_id, m.new_id,
            'no row of ' || c.table_name || ' has this id; '
                || case when m.key_row_id is null
                    then 'no row has ' || c.key_column || ' ' || m.legacy_id
                    else 'the row with ' || c.key_column || ' ' || m.legacy_id || ' is '
                        || m.key_row_id end as detail
        from mm_map as m
        join mm_catalogue as c on c.entity_type = m.entity_type
        where m.junk_reason is null and not m.id_in_table and m.convention is null
    """,
    "new_id_of_another_row": """
        select m.entity_type, m.legacy_id, m.new_id,
            'the row of ' || c.table_name || ' with this id has ' || c.key_column || ' '
                || coalesce(m.id_row_key::text, 'null') || '; '
                || case when m.key_row_id is null
                    then 'no row has ' || c.key_column || ' ' || m.legacy_id
                    else 'the row with ' || c.key_column || ' ' || m.legacy_id || ' is '
                        || m.key_row_id end as detail
        from mm_map as m
        join mm_catalogue as c on c.entity_type = m.entity_type
        where m.junk_reason is null and m.id_in_table
            and m.id_row_key is distinct from m.legacy_id and m.convention is null
    """,
    "missing_mapping": """
        select r.entity_type, r.legacy_id, r.row_id as new_id,
            case when junk.junk_reason is not null
                then 'only a junk mapping (' || junk.junk_reason || ')'
                else 'no mapping' end as detail
        from mm_rows as r
        left join mm_map as junk
            on junk.entity_type = r.entity_type and junk.legacy_id = r.legacy_id
            and junk.junk_reason is not null
        where r.legacy_id is not null
            and not exists (
                select 1 from mm_map as m
                where m.entity_type = r.entity_type and m.legacy_id = r.legacy_id
                    and m.junk_reason is null
            )
    """,
}


def _convention_sql(convention: Convention) -> str:
    """The rows that follow one convention: (entity_type, legacy_id, new_id, detail)."""
    name = convention.name.replace("'", "''")
    text = (
        f"the earlier scripts' convention {convention.name}: holds the {convention.column} of "
        f"the {convention.table} row with {convention.key_column} "
    ).replace("'", "''")
    return f"""
        select m.entity_type, m.legacy_id, m.new_id, '{text}' || m.legacy_id as detail
        from mm_map as m
        where m.convention = '{name}' and m.junk_reason is null
    """


# One statement per repair action: (entity_type, legacy_id, old_new_id, new_id, reason) rows.
_ACTION_SQL: dict[str, str] = {
    "fix": """
        select m.entity_type, m.legacy_id, m.new_id as old_new_id, m.key_row_id as new_id,
            case
                when m.junk_reason is not null then 'junk (' || m.junk_reason || ')'
                when m.convention is not null
                    then 'the earlier scripts'' convention ' || m.convention
                when not m.id_in_table then 'dangling'
                else 'new_id of another row'
            end as reason
        from mm_map as m
        where m.declared and m.key_row_id is not null and m.new_id is distinct from m.key_row_id
            and (m.convention is null or {rewrite})
    """,
    "delete": """
        select m.entity_type, m.legacy_id, m.new_id as old_new_id, null::uuid as new_id,
            case when not m.id_in_table then 'dangling; the key has no row'
                else 'new_id of another row; the key has no row' end as reason
        from mm_map as m
        where m.declared and m.junk_reason is null and m.key_row_id is null
    """,
    "add": """
        select r.entity_type, r.legacy_id, null::uuid as old_new_id, r.row_id as new_id,
            'target row without a mapping' as reason
        from mm_rows as r
        where r.legacy_id is not null
            and not exists (
                select 1 from mm_map as m
                where m.entity_type = r.entity_type and m.legacy_id = r.legacy_id
            )
    """,
    "delete_junk": """
        select m.entity_type, m.legacy_id, m.new_id as old_new_id, null::uuid as new_id,
            'junk (' || m.junk_reason || ')' as reason
        from mm_map as m
        where m.junk_reason is not null and not (m.declared and m.key_row_id is not null)
    """,
}


def _grouped(
    conn: psycopg.Connection, kind: str, query: str, sample_columns: Sequence[str]
) -> list[Finding]:
    """Runs one problem or action query, grouped per entity type: count, all keys, first rows."""
    sample = ", ".join(f"'{c}', found.{c}" for c in sample_columns)
    rows = conn.execute(
        f"""
        with found as ({query}),
        numbered as (
            select found.*,
                row_number() over (
                    partition by found.entity_type order by found.legacy_id, found.new_id
                ) as rn
            from found
        )
        select found.entity_type, count(*),
            array_agg(found.legacy_id order by found.legacy_id, found.new_id),
            coalesce(jsonb_agg(jsonb_build_object({sample}) order by found.rn)
                filter (where found.rn <= {SAMPLE_ROWS}), '[]'::jsonb)
        from numbered as found
        left join mm_catalogue as c on c.entity_type = found.entity_type
        group by found.entity_type, c.position
        order by c.position nulls last, found.entity_type
        """
    ).fetchall()
    return [
        Finding(str(etype), kind, int(count), [int(k) for k in keys], list(samples))
        for etype, count, keys, samples in rows
    ]


def _entity_summary(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        select c.entity_type, c.table_name, c.key_column,
            (select count(*) from mm_rows r where r.entity_type = c.entity_type
                and r.legacy_id is not null) as target_rows,
            (select count(*) from mm_map m where m.entity_type = c.entity_type) as mappings
        from mm_catalogue as c
        order by c.position
        """
    ).fetchall()
    return [
        {
            "entity_type": r[0],
            "table": r[1],
            "legacy_key": r[2],
            "target_rows_with_key": int(r[3]),
            "mappings": int(r[4]),
        }
        for r in rows
    ]


def _begin(conn: psycopg.Connection) -> None:
    conn.execute("set transaction isolation level repeatable read")


# --- check ---------------------------------------------------------------------------------------


def check_mappings(
    settings: Settings,
    *,
    entities: Sequence[str] | None = None,
    declared: Sequence[MappedEntity] | None = None,
    fail_on_junk: bool = False,
) -> CheckReport:
    """Every problem of migration_mappings, per entity type. Changes nothing.

    `entities` limits the check to some entity types (or marts): then only their mappings and
    tables are compared, and undeclared types are not listed. `declared` replaces the marts'
    declarations (tests, tools).
    """
    started = time.monotonic()
    chosen = select_entities(entities, declared)
    scoped = bool(entities)
    known = conventions() if declared is None else []
    with db.connection(
        settings.target, autocommit=False, application_name="diffmig mappings"
    ) as conn:
        bookkeeping_schema.ensure_schema(conn)  # diffmig.mapping_junk_reason, the junk rule
        try:
            _begin(conn)
            _prepare(conn, chosen, scoped, known)
            findings: list[Finding] = []
            for convention in known:
                findings.extend(
                    _grouped(
                        conn,
                        convention.name,
                        _convention_sql(convention),
                        ("legacy_id", "new_id", "detail"),
                    )
                )
            for problem in PROBLEMS:
                if problem == "undeclared_entity_type" and scoped:
                    continue
                findings.extend(
                    _grouped(
                        conn, problem, _PROBLEM_SQL[problem], ("legacy_id", "new_id", "detail")
                    )
                )
            summary = _entity_summary(conn)
        finally:
            conn.rollback()
    return CheckReport(
        entities=summary,
        findings=_ordered(findings, PROBLEMS),
        fail_on_junk=fail_on_junk,
        undeclared_reported=not scoped,
        seconds=time.monotonic() - started,
    )


def _ordered(findings: Iterable[Finding], kinds: Sequence[str]) -> list[Finding]:
    """By kind (`kinds` first, in their order; the conventions after them)."""
    rank = {k: i for i, k in enumerate(kinds)}
    return sorted(findings, key=lambda f: rank.get(f.kind, len(kinds)))


# --- repair --------------------------------------------------------------------------------------


def repair_batch(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"diffmig-repair-{stamp}"


def repair_mappings(
    settings: Settings,
    *,
    apply: bool = False,
    delete_junk: bool = False,
    rewrite_conventions: bool = False,
    entities: Sequence[str] | None = None,
    declared: Sequence[MappedEntity] | None = None,
) -> RepairReport:
    """Rebuilds migration_mappings from the target tables' legacy keys (see the module doc).

    Plans every action with one statement each; with apply, carries them out in the same
    transaction (the mapping table locked against other writers meanwhile), else rolls back.
    """
    started = time.monotonic()
    chosen = select_entities(entities, declared)
    known = conventions() if declared is None else []
    batch = repair_batch()
    changed: dict[str, int] = {}
    with db.connection(
        settings.target, autocommit=False, application_name="diffmig mappings"
    ) as conn:
        bookkeeping_schema.ensure_schema(conn)  # diffmig.mapping_junk_reason, the junk rule
        try:
            _begin(conn)
            if apply:
                # Other writers (the migration_mappings mart) wait; readers do not.
                conn.execute("set local lock_timeout = '60s'")
                try:
                    conn.execute(
                        sql.SQL("lock table {} in share row exclusive mode").format(MAPPINGS_TABLE)
                    )
                except psycopg.errors.LockNotAvailable:
                    raise RunFailed(
                        "migration_mappings stayed locked by another session for 60 seconds",
                        hint="a `diffmig run` may be writing mappings; repair again once it is done",
                    ) from None
            _prepare(conn, chosen, scoped=bool(entities), known=known)
            conn.execute(
                "create temp table mm_plan (action text not null, entity_type text not null, "
                "legacy_id bigint not null, old_new_id uuid, new_id uuid, reason text) "
                "on commit drop"
            )
            findings: list[Finding] = []
            for action in ACTIONS:
                query = _ACTION_SQL[action].replace(
                    "{rewrite}", "true" if rewrite_conventions else "false"
                )
                findings.extend(
                    _grouped(conn, action, query, ("legacy_id", "old_new_id", "new_id", "reason"))
                )
                if action != "delete_junk" or delete_junk:
                    conn.execute(
                        f"insert into mm_plan (action, entity_type, legacy_id, old_new_id, "
                        f"new_id, reason) select %s, p.* from ({query}) as p",
                        (action,),
                    )
            junk_kept = 0
            if not delete_junk:
                junk_kept = sum(f.count for f in findings if f.kind == "delete_junk")
                findings = [f for f in findings if f.kind != "delete_junk"]
            kept = conn.execute(
                "select count(*) from mm_map where convention is not null "
                "and not (%s and declared and key_row_id is not null)",
                (rewrite_conventions,),
            ).fetchone()
            summary = _entity_summary(conn)
            if apply:
                changed = _apply_plan(conn, batch)
                conn.commit()
        finally:
            if (
                not conn.closed
                and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            ):
                conn.rollback()
    return RepairReport(
        batch=batch,
        applied=apply,
        delete_junk=delete_junk,
        entities=summary,
        findings=_ordered(findings, ACTIONS),
        junk_kept=junk_kept,
        rows_changed=changed,
        seconds=time.monotonic() - started,
        rewrite_conventions=rewrite_conventions,
        conventions_kept=int(kept[0]) if kept else 0,
    )


def _apply_plan(conn: psycopg.Connection, batch: str) -> dict[str, int]:
    """The plan's rows, written: deletes, then fixes, then inserts (all set-based)."""
    deleted = conn.execute(
        sql.SQL(
            "delete from {} as m using mm_plan as p "
            "where p.action in ('delete', 'delete_junk') "
            "and m.entity_type = p.entity_type and m.legacy_id = p.legacy_id"
        ).format(MAPPINGS_TABLE)
    ).rowcount
    fixed = conn.execute(
        sql.SQL(
            "update {} as m set new_id = p.new_id, migration_batch = %s, "
            "migrated_at = (now() at time zone 'utc')::timestamp "
            "from mm_plan as p where p.action = 'fix' "
            "and m.entity_type = p.entity_type and m.legacy_id = p.legacy_id"
        ).format(MAPPINGS_TABLE),
        (batch,),
    ).rowcount
    added = conn.execute(
        sql.SQL(
            "insert into {} (entity_type, legacy_id, new_id, migrated_at, migration_batch) "
            "select p.entity_type, p.legacy_id, p.new_id, "
            "(now() at time zone 'utc')::timestamp, %s "
            "from mm_plan as p where p.action = 'add'"
        ).format(MAPPINGS_TABLE),
        (batch,),
    ).rowcount
    return {"deleted": deleted, "fixed": fixed, "added": added}
