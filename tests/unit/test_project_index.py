"""The project's index (orchestrator/project_index.py) says what the dbt project declares: checked
here against the YAML files themselves, read independently."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator.project_index import PROJECT_ROOT, MartMeta, load_index

MARTS = PROJECT_ROOT / "models" / "marts" / "supabase"
SOURCES = PROJECT_ROOT / "models" / "staging" / "legacy" / "_legacy__sources.yml"


def _yaml_models(folder: Path) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for path in sorted(folder.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            found[str(model["name"])] = model
    return found


def test_legacy_tables_are_the_legacy_source_in_file_order() -> None:
    doc = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    legacy = next(s for s in doc["sources"] if s["name"] == "legacy")
    declared = [(t["name"], (t.get("meta") or {}).get("key", "id")) for t in legacy["tables"]]
    assert [(t.name, t.key) for t in load_index().legacy_tables] == declared


def test_each_mart_has_its_yaml_declaration_and_owned_columns_in_yaml_order() -> None:
    index = load_index()
    models = _yaml_models(MARTS)
    assert sorted(index.marts) == sorted(p.stem for p in MARTS.glob("*.sql"))
    for entity in index.entities:
        model = models[entity.name]
        # owned: documented, but not those marked `config: {meta: {owned: false}}`
        columns = [
            str(c["name"])
            for c in model.get("columns", [])  # type: ignore[attr-defined]
            if ((c.get("config") or {}).get("meta") or {}).get("owned", True)
        ]
        assert list(entity.owned_columns) == columns, entity.name
        config = model.get("config") or {}
        meta = ((config.get("meta") or {}).get("diffmig")) or {}  # type: ignore[attr-defined]
        known = set(MartMeta.__dataclass_fields__)  # keys Python reads; others are dbt's
        values: dict[str, object] = {}
        for key, value in meta.items():
            if key not in known:
                continue
            if key == "soft_delete":  # column -> SQL value; prose names no column
                values[key] = dict(value) if isinstance(value, dict) else {}
            elif key == "mapping_conventions":
                values[key] = tuple(dict(c) for c in value)
            else:
                values[key] = str(value)
        expected = MartMeta(**values)  # type: ignore[arg-type]
        assert entity.meta == expected, entity.name


def test_entities_come_in_ref_order_with_their_models() -> None:
    index = load_index()
    order = index.marts
    for entity in index.entities:
        for parent in entity.parents:
            assert order.index(parent) < order.index(entity.name), (parent, entity.name)
    offices = index.entity("offices")
    assert offices.legacy_tables == ("dispatch_office",)
    assert offices.mapped_models == ("int_offices_mapped",)
    assert "stg_legacy__offices" in offices.staging_models
    assert offices.unique_key == ("legacy_office_id",)
    assert "migration_mappings" not in [e.name for e in index.app_entities()]
