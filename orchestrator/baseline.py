"""`diffmig baseline`: where the migration stands, per entity, in seconds.

Per entity: rows in the source (in scope), rows in the target, rows with a trusted mapping,
source keys missing in the target, target rows whose legacy key is gone from the source, junk
mappings, and the last successful migration (from migration_control and from diffmig's runs).

What an entity reads is declared once, in its mart's YAML (`config.meta.diffmig`: legacy_table,
legacy_key, optional source_key and scope, mapping_entity_type); it and the order of the
entities (the marts' ref() order) come from the project's index (project_index.py). Key sets are compared in the destination as bitmaps, one per run
of 64 consecutive keys: the source's (its keys in scope and all its keys) are streamed into a
temporary table with one binary COPY per entity, and counted against the target's (_key_gaps).
"""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import db
from orchestrator.bookkeeping import schema as bookkeeping
from orchestrator.bookkeeping.steps import last_done
from orchestrator.errors import ConfigError
from orchestrator.mappings import JUNK_REASON_SQL
from orchestrator.marts import EntitySpec, entity_specs
from orchestrator.settings import Settings, redact
from orchestrator.sync.transports import stream_copy


def _scope_sql(spec: EntitySpec) -> sql.Composable:
    # The scope is a predicate written by the project's maintainers in the mart's YAML.
    return sql.SQL(spec.scope) if spec.scope else sql.SQL("true")


def baseline_tables(specs: list[EntitySpec]) -> list[str]:
    """The legacy tables a baseline counts rows of (one per keyed or single-table entity)."""
    return sorted({s.legacy_table for s in specs if s.legacy_table and _one_table(s.legacy_table)})


def _one_table(name: str) -> bool:
    """A plain identifier (one table, or one key column), not a list of several."""
    return re.fullmatch(r"\w+", name) is not None


def run_baseline(settings: Settings, specs: list[EntitySpec] | None = None) -> dict[str, Any]:
    started = time.monotonic()
    specs = entity_specs(settings) if specs is None else specs
    rows: list[dict[str, Any]] = []
    with db.connection(settings.source) as src, db.connection(settings.target) as dst:
        bookkeeping.ensure_schema(dst)
        junk = _junk_by_type(dst)
        for spec in specs:
            rows.append(_entity_row(src, dst, spec, junk))
        stamp_last_migrated(dst, rows)
    return {"entities": rows, "elapsed_s": round(time.monotonic() - started, 3)}


def stamp_last_migrated(dst: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    """Each entity row's `last_migrated_at`: the latest successful migration of its table, the
    earlier scripts' (migration_control) or diffmig's (its runs). Cheap: a report that reuses a
    baseline's counts stamps them again."""
    control: dict[str, Any] = (
        dict(
            dst.execute(
                "select table_name, max(completed_at) from public.migration_control "
                "where lower(status) in ('completed', 'success', 'succeeded', 'done') "
                "group by table_name"
            ).fetchall()
        )
        if _exists(dst, "public.migration_control")
        else {}
    )
    ours = last_done(dst)
    for row in rows:
        stamps = [
            t
            for t in (
                control.get(row["entity"]),
                control.get(row["legacy_table"] or ""),
                ours.get(row["entity"]),
            )
            if t is not None
        ]
        row["last_migrated_at"] = (
            max(
                t.replace(tzinfo=None) if getattr(t, "tzinfo", None) else t for t in stamps
            ).isoformat()
            if stamps
            else None
        )


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (relation,)).fetchone()
    return bool(row and row[0])


def _junk_by_type(dst: psycopg.Connection) -> dict[str, int]:
    """Junk mappings per entity type, by the rule `diffmig mappings check` uses."""

    if not _exists(dst, "public.migration_mappings"):
        return {}
    return {
        str(t): int(n)
        for t, n in dst.execute(
            "select m.entity_type, count(*) from public.migration_mappings m "  # noqa: S608
            f"where ({JUNK_REASON_SQL}) is not null group by 1"
        ).fetchall()
    }


def _entity_row(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    spec: EntitySpec,
    junk: dict[str, int],
) -> dict[str, Any]:
    table = sql.Identifier("public", spec.entity)
    row: dict[str, Any] = {
        "entity": spec.entity,
        "legacy_table": spec.legacy_table,
        "scope": spec.scope,
        "source_rows": None,
        "target_rows": None,
        "mapped_rows": None,
        "missing_in_target": None,
        "orphaned_in_target": None,
        "junk_mappings": junk.get(spec.mapping_entity_type or "", 0),
        "last_migrated_at": None,
    }
    if not _exists(dst, f"public.{spec.entity}"):
        row["error"] = f"the target has no table public.{spec.entity}"
        return row
    keyed = bool(
        spec.legacy_table
        and spec.legacy_key
        and _one_table(spec.legacy_table)
        and _one_table(spec.legacy_key)
    )
    if spec.legacy_table and not _one_table(spec.legacy_table):
        row["error"] = f"{spec.legacy_table}: several legacy tables, counted in the target only"
    elif spec.legacy_table and not keyed:  # a keyed entity's are counted as they are streamed
        count = src.execute(
            sql.SQL("select count(*) from {} where {}").format(
                sql.Identifier("public", spec.legacy_table), _scope_sql(spec)
            )
        ).fetchone()
        row["source_rows"] = int(count[0]) if count else 0
    count = dst.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()
    row["target_rows"] = int(count[0]) if count else 0
    if spec.mapping_entity_type and _exists(dst, "public.migration_mappings"):
        mapped = dst.execute(
            "select count(*) from public.migration_mappings where entity_type = %s "
            "and legacy_id > 0 and new_id is not null",
            (spec.mapping_entity_type,),
        ).fetchone()
        row["mapped_rows"] = int(mapped[0]) if mapped else 0
    # Junctions (doctor_offices, order_cases, ...) have no single legacy key: counts only.
    if keyed:
        try:
            in_scope, missing, orphaned = _key_gaps(src, dst, spec)
        except (psycopg.ProgrammingError, psycopg.DataError) as exc:
            # The declaration no longer fits a database (a key column renamed, a scope that
            # does not parse, a key that is no integer): name the entity and what it reads.
            raise ConfigError(
                f"baseline of {spec.entity}: comparing legacy keys "
                f"{spec.legacy_table}.{spec.source_key} (scope: {spec.scope or 'every row'}) with "
                f"{spec.entity}.{spec.legacy_key} failed: {redact(str(exc)).strip()}",
                hint="`diffmig schema diff` shows what changed in either database; the entity's "
                "declaration is config.meta.diffmig in its mart's YAML (models/marts/supabase/)",
            ) from exc
        row["source_rows"] = in_scope
        row["missing_in_target"], row["orphaned_in_target"] = missing, orphaned
    return row


def _key_gaps(
    src: psycopg.Connection, dst: psycopg.Connection, spec: EntitySpec
) -> tuple[int, int, int]:
    """(source rows in scope, of their keys those without a target row, target rows whose legacy
    key is not in the source at all), exactly, by bitmaps.

    The source reduces its keys to one bitmap per run of 64 consecutive keys (run = key >> 6,
    bit = key & 63), one of its keys in scope and one of all its keys, with the run's count of
    rows in scope, streamed into a temporary table (82,000 rows for the 5 million notifications
    at scale 1.0, where streaming the 2 million keys in scope and the gaps between all keys took
    most of baseline's time). The destination reduces its target rows' legacy keys the same way,
    with each run's row count, in the query that counts the bits set in the differences: keys in
    scope without a target row, target keys the source does not have. Orphaned target rows are
    rows: where a run holds a key twice (a target table without a unique legacy key), its
    orphaned rows are counted one by one."""
    assert spec.legacy_table
    assert spec.legacy_key
    source_key = sql.Identifier(spec.source_key)
    key = sql.Identifier(spec.legacy_key)
    with dst.transaction():
        dst.execute(
            "create temp table baseline_bitmaps (run bigint, rows_in_scope bigint, "
            "in_scope bigint, present bigint) on commit drop"
        )
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select {run}, count(*) filter (where {in_scope}), "
                "coalesce({bit_or} filter (where {in_scope}), 0), {bit_or} "
                "from {t} where {k} is not null group by 1"
            ).format(
                run=_run_of(source_key),
                in_scope=sql.SQL("coalesce(({}), false)").format(_scope_sql(spec)),
                bit_or=_bits_of(source_key),
                t=sql.Identifier("public", spec.legacy_table),
                k=source_key,
            ),
            sql.SQL("copy pg_temp.baseline_bitmaps from stdin (format binary)"),
        )
        # Per run: `gone`, the target's keys the source does not have; `distinct_keys`, as many
        # target rows as keys. Bits are counted only where there are some (most runs have none).
        runs = sql.SQL(
            "with target as (select {run} as run, {bit_or} as present, count(*) as target_rows "
            "from {t} where {k} is not null group by 1) "
            "select coalesce(t.run, s.run) as run, coalesce(s.rows_in_scope, 0) as rows_in_scope, "
            "coalesce(s.in_scope, 0) & ~coalesce(t.present, 0) as missing, "
            "coalesce(t.present, 0) & ~coalesce(s.present, 0) as gone, "
            "coalesce(t.target_rows, 0) as target_rows, coalesce(t.present, 0) as present "
            "from pg_temp.baseline_bitmaps as s full join target as t on t.run = s.run"
        ).format(
            run=_run_of(key),
            bit_or=_bits_of(key),
            t=sql.Identifier("public", spec.entity),
            k=key,
        )
        counts = dst.execute(
            sql.SQL(
                "select coalesce(sum(rows_in_scope), 0), "
                "coalesce(sum({missing}) filter (where missing <> 0), 0), "
                "coalesce(sum({gone}) filter (where gone <> 0 and target_rows = {present}), 0), "
                "count(*) filter (where gone <> 0 and target_rows <> {present}) "
                "from ({runs}) as runs"
            ).format(
                runs=runs,
                missing=_popcount(sql.SQL("missing")),
                gone=_popcount(sql.SQL("gone")),
                present=_popcount(sql.SQL("present")),
            )
        ).fetchone()
        assert counts is not None
        in_scope, missing, orphaned, shared_runs = (int(n) for n in counts)
        if shared_runs:
            # A run holding a key twice (a target table without a unique legacy key): its
            # orphaned rows counted one by one (rows, not keys).
            row = dst.execute(
                sql.SQL(
                    "select count(*) from {t} as x join ({runs}) as runs on runs.run = {run} "
                    "where runs.gone <> 0 and runs.target_rows <> {present} "
                    "and (runs.gone >> ({k}::bigint & 63)::integer) & 1 = 1"
                ).format(
                    t=sql.Identifier("public", spec.entity),
                    runs=runs,
                    run=_run_of(sql.Identifier("x", spec.legacy_key)),
                    k=sql.Identifier("x", spec.legacy_key),
                    present=_popcount(sql.SQL("runs.present")),
                )
            ).fetchone()
            orphaned += int(row[0]) if row else 0
    return in_scope, missing, orphaned


def _run_of(key: sql.Identifier) -> sql.Composable:
    """The run of 64 keys a key is in (an arithmetic shift: negative keys too)."""
    return sql.SQL("({}::bigint >> 6)").format(key)


def _bits_of(key: sql.Identifier) -> sql.Composable:
    """The bitmap of a run's keys (an aggregate): bit key & 63 for each key."""
    return sql.SQL("bit_or(1::bigint << ({}::bigint & 63)::integer)").format(key)


def _popcount(bitmap: sql.Composable) -> sql.Composable:
    """Bits set in a bigint (bit_count() needs PostgreSQL 14; this works on every version)."""
    return sql.SQL("length(replace(({})::bit(64)::text, '0', ''))").format(bitmap)
