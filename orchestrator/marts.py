"""What each mart declares for diffmig, in the marts' order: the entity specs that `diffmig
baseline` and `diffmig mappings` both read.

An entity's legacy source is declared once, in its mart's YAML (`config.meta.diffmig`:
legacy_table, legacy_key, optional source_key and scope, mapping_entity_type); the order of the
entities is the marts' ref() order, from the dbt manifest when one is at hand (the newest of
target/manifest.json and diffmig's own target/diffmig/*/manifest.json), else from the refs in
the model files (sql_lineage).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.catalog import PROJECT_ROOT

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
    """The marts in ref() order: from dbt's manifest.json when it exists, else from the refs in
    the model files (sql_lineage; a fresh checkout has no manifest before its first dbt parse)."""
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if doc is not None:
        nodes = doc.get("nodes", {})
        by_name = {
            n["name"]: uid
            for uid, n in nodes.items()
            if n.get("resource_type") == "model" and "marts" in n.get("fqn", [])
        }
        parents = {
            uid: [p for p in ups if p.startswith("model.")]
            for uid, ups in doc.get("parent_map", {}).items()
        }
    else:
        from orchestrator.sql_lineage import Project

        models = Project().models
        by_name = {n: n for n in names if n in models}
        parents = {n: [r for r in m.refs if r in models] for n, m in models.items()}

    def depth(node: str, seen: frozenset[str] = frozenset()) -> int:
        ups = [p for p in parents.get(node, []) if p not in seen]
        return 1 + max((depth(p, seen | {node}) for p in ups), default=0)

    return sorted(names, key=lambda n: (depth(by_name[n]) if n in by_name else 0, n))
