"""What each mart declares for diffmig, in the marts' order: the entity specs that `diffmig
baseline` and `diffmig mappings` both read.

An entity's legacy source is declared once, in its mart's YAML (`config.meta.diffmig`:
legacy_table, legacy_key, optional source_key and scope, mapping_entity_type); it and the order
of the entities (the marts' ref() order) come from the project's index (project_index.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.project_index import load_index
from orchestrator.settings import Settings


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    legacy_table: str | None
    legacy_key: str | None
    source_key: str
    scope: str | None
    mapping_entity_type: str | None
    # The earlier scripts' documented mapping conventions for this table's keys (config.meta
    # .diffmig.mapping_conventions: name, entity_type, column); orchestrator.mappings reads them.
    mapping_conventions: tuple[dict[str, str], ...] = ()
    # keep_oldest: several target rows of some keys (entity_pattern.sql, duplicate_targets)
    duplicate_targets: str | None = None


def entity_specs(settings: Settings | None = None) -> list[EntitySpec]:
    """The app's entities in the marts' ref() order, with what their YAML declares."""
    return [
        EntitySpec(
            entity=entity.name,
            legacy_table=entity.meta.legacy_table,
            legacy_key=entity.meta.legacy_key,
            source_key=entity.meta.source_key,
            scope=entity.meta.scope,
            mapping_entity_type=entity.meta.mapping_entity_type,
            mapping_conventions=entity.meta.mapping_conventions,
            duplicate_targets=entity.meta.duplicate_targets,
        )
        for entity in load_index(settings).app_entities()
    ]
