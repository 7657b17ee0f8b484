"""`diffmig baseline`: where the migration stands, per entity, in seconds.

Per entity: rows in the source (in scope), rows in the target, rows with a trusted mapping,
source keys missing in the target, target rows whose legacy key is gone from the source, junk
mappings, and the last successful migration (from migration_control and from diffmig's runs).

What an entity reads is declared once, in its mart's YAML (`config.meta.diffmig`: legacy_table,
legacy_key, optional source_key and scope, mapping_entity_type); the order of the entities is
the marts' ref() order, from the dbt manifest when one is at hand (the newest of
target/manifest.json and diffmig's own target/diffmig/*/manifest.json), else
from the marts' names. Key sets are compared in the destination: the source's keys in scope are
streamed into a temporary table (one binary COPY per entity; their count is the source rows in
scope), and the source's keys as a whole are sent as their gaps (the runs of missing keys
between its lowest and highest: a few thousand rows for the 5 million notifications, where
streaming every key took three quarters of baseline's time).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from orchestrator import db
from orchestrator.bookkeeping import store
from orchestrator.catalog import PROJECT_ROOT
from orchestrator.settings import Settings
from orchestrator.sync.transports import stream_copy

MARTS_DIR = PROJECT_ROOT / "models" / "marts" / "supabase"
MANIFEST = PROJECT_ROOT / "target" / "manifest.json"


def newest_manifest() -> Path:
    """dbt's own target/manifest.json or one of diffmig's (dbt_runner.default_target_path)."""
    found = [MANIFEST, *(PROJECT_ROOT / "target" / "diffmig").glob("*/manifest.json")]
    existing = [p for p in found if p.is_file()]
    return max(existing, key=lambda p: p.stat().st_mtime) if existing else MANIFEST


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    legacy_table: str | None
    legacy_key: str | None
    source_key: str
    scope: str | None
    mapping_entity_type: str | None


def entity_specs(marts_dir: Path = MARTS_DIR, manifest: Path | None = None) -> list[EntitySpec]:
    manifest = manifest or newest_manifest()
    specs: dict[str, EntitySpec] = {}
    for path in sorted(marts_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models", []):
            meta = ((model.get("config") or {}).get("meta") or {}).get("diffmig") or {}
            if model.get("name") == "migration_mappings":
                continue  # bookkeeping, not an entity
            specs[model["name"]] = EntitySpec(
                entity=model["name"],
                legacy_table=meta.get("legacy_table"),
                legacy_key=meta.get("legacy_key"),
                source_key=meta.get("source_key", "id"),
                scope=meta.get("scope"),
                mapping_entity_type=meta.get("mapping_entity_type"),
            )
    return [specs[name] for name in _ordered_names(list(specs), manifest)]


def _ordered_names(names: list[str], manifest: Path) -> list[str]:
    """The marts in ref() order, from dbt's manifest.json when it exists."""
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return sorted(names)
    nodes = doc.get("nodes", {})
    parents = doc.get("parent_map", {})
    by_name = {
        n["name"]: uid
        for uid, n in nodes.items()
        if n.get("resource_type") == "model" and "marts" in n.get("fqn", [])
    }

    def depth(uid: str, seen: frozenset[str] = frozenset()) -> int:
        ups = [p for p in parents.get(uid, []) if p.startswith("model.") and p not in seen]
        return 1 + max((depth(p, seen | {uid}) for p in ups), default=0)

    return sorted(names, key=lambda n: (depth(by_name[n]) if n in by_name else 0, n))


def _scope_sql(spec: EntitySpec) -> sql.Composable:
    # The scope is a predicate written by the project's maintainers in the mart's YAML.
    return sql.SQL(spec.scope) if spec.scope else sql.SQL("true")


def run_baseline(settings: Settings) -> dict[str, Any]:
    started = time.monotonic()
    specs = entity_specs()
    rows: list[dict[str, Any]] = []
    with db.connection(settings.source) as src, db.connection(settings.target) as dst:
        store.ensure_schema(dst)
        control = (
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
        ours = dict(
            dst.execute(
                "select entity, max(finished_at) from diffmig.run_steps "
                "where phase = 'done' group by entity"
            ).fetchall()
        )
        junk = _junk_by_type(dst)
        for spec in specs:
            rows.append(_entity_row(src, dst, spec, control, ours, junk))
    return {"entities": rows, "elapsed_s": round(time.monotonic() - started, 3)}


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (relation,)).fetchone()
    return bool(row and row[0])


def _junk_by_type(dst: psycopg.Connection) -> dict[str, int]:
    """Junk mappings per entity type, by the rule `diffmig mappings check` uses."""
    from orchestrator.mappings import JUNK_REASON_SQL  # lazy: mappings imports this module

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
    control: dict[str, Any],
    ours: dict[str, Any],
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
        and re.fullmatch(r"\w+", spec.legacy_table)
        and re.fullmatch(r"\w+", spec.legacy_key)
    )
    if spec.legacy_table and not re.fullmatch(r"\w+", spec.legacy_table):
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
        in_scope, missing, orphaned = _key_gaps(src, dst, spec)
        row["source_rows"] = in_scope
        row["missing_in_target"], row["orphaned_in_target"] = missing, orphaned
    stamps = [
        t
        for t in (
            control.get(spec.entity),
            control.get(spec.legacy_table or ""),
            ours.get(spec.entity),
        )
        if t is not None
    ]
    if stamps:
        row["last_migrated_at"] = max(
            t.replace(tzinfo=None) if getattr(t, "tzinfo", None) else t for t in stamps
        ).isoformat()
    return row


def _key_gaps(
    src: psycopg.Connection, dst: psycopg.Connection, spec: EntitySpec
) -> tuple[int, int, int]:
    """(source keys in scope, of them without a target row, target rows whose legacy key is not
    in the source at all)."""
    assert spec.legacy_table
    assert spec.legacy_key
    source = sql.Identifier("public", spec.legacy_table)
    source_key = sql.Identifier(spec.source_key)
    key = sql.Identifier(spec.legacy_key)
    target = sql.Identifier("public", spec.entity)
    with dst.transaction():
        dst.execute("create temp table baseline_keys (id bigint) on commit drop")
        in_scope = stream_copy(
            src,
            dst,
            sql.SQL("select {k}::bigint from {t} where coalesce(({scope}), false)").format(
                k=source_key, t=source, scope=_scope_sql(spec)
            ),
            sql.SQL("copy pg_temp.baseline_keys from stdin (format binary)"),
        )
        dst.execute("analyze pg_temp.baseline_keys")
        missing = dst.execute(
            sql.SQL(
                "select count(*) from pg_temp.baseline_keys k "
                "where not exists (select 1 from {t} x where x.{k} = k.id)"
            ).format(t=target, k=key)
        ).fetchone()
        # Every source key, as its bounds and its gaps: a gap (after, before) is a run of
        # missing keys between two consecutive keys, each one a key of the source.
        lowest, highest = src.execute(
            sql.SQL("select min({k})::bigint, max({k})::bigint from {t}").format(
                k=source_key, t=source
            )
        ).fetchone() or (None, None)
        dst.execute("create temp table baseline_gaps (after bigint, before bigint) on commit drop")
        stream_copy(
            src,
            dst,
            sql.SQL(
                "select after, before from (select lag({k}::bigint) over (order by {k}) as after, "
                "{k}::bigint as before from {t}) as keys where before > after + 1"
            ).format(k=source_key, t=source),
            sql.SQL("copy pg_temp.baseline_gaps from stdin (format binary)"),
        )
        dst.execute("analyze pg_temp.baseline_gaps")
        # A target key is the source's when it lies within the bounds and not inside a gap.
        # Gaps do not overlap, so the gap a key could be inside is the last one starting below
        # it: in key order (a target key before a gap starting at the same key, which is then a
        # source key), the running max of the gaps' ends is that gap's end. One sort, where a
        # lookup per target row took six times longer for the 2 million system messages.
        orphaned = dst.execute(
            sql.SQL(
                "select count(*) from (select id, is_gap, max(before) over "
                "(order by id, is_gap rows unbounded preceding) as gap_before from ("
                "select after as id, true as is_gap, before from pg_temp.baseline_gaps "
                "union all select {k}::bigint, false, null from {t} where {k} is not null"
                ") as keys) as ordered "
                "where not is_gap and ({lowest}::bigint is null "
                "or id < {lowest} or id > {highest} or id < gap_before)"
            ).format(t=target, k=key, lowest=sql.Literal(lowest), highest=sql.Literal(highest))
        ).fetchone()
    return in_scope, int(missing[0]) if missing else 0, int(orphaned[0]) if orphaned else 0
