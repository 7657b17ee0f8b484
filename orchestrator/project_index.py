"""One index of the dbt project: what every command needs to know about the entities.

The dbt project is the one declaration of the migration; this module is the one place Python
reads it, from dbt's parsed manifest (built by `dbt_runner.build_index`, the only module that
imports dbt). The index holds:
    - the legacy tables: the `legacy` source's tables in the order the sources file lists them,
      each with its key (`meta.key`, default `id`); the list the sync mirrors;
    - the entities, one per mart (models/marts/), in the marts' ref() order (parents first), each
      with its models (the mart; the intermediate models it refs, its mapped models; the staging
      and intermediate models upstream of it), its legacy tables (the `legacy` sources upstream
      of its mart), the mart's `config.meta.diffmig` (legacy_table, legacy_key, source_key,
      scope, mapping_entity_type, soft_delete), its owned columns (the columns the mart's YAML
      documents, in YAML order: the columns its upsert writes) and its unique key.

It is cached as JSON (target/diffmig/project_index.json), keyed by a digest of every file dbt
parses and of dbt's version: while the project's files are unchanged, reading the index costs
milliseconds and starts no dbt (a run with nothing to do does not import dbt at all). The index
does not depend on the destination database, so one cache serves every target; the parse that
refreshes it is the one a run makes anyway, or, for a command that has no other use for dbt
(`sync`, `baseline`, `schema diff`, `doctor`), one parse with a placeholder profile (a parse
never connects).

Column lineage (which legacy column fills which app column, for `schema diff` and the sync's
dropped-column guard) is not in the index: dbt's manifest has no column lineage, and
PostgreSQL's catalogs have none either past the staging views (view_column_usage says which
columns of `diffmig_staging.<table>` a staging view reads, not which output they feed, and says
nothing before the first build or for the marts, which are tables). `sql_lineage.py` keeps that
reading of the model files, and takes the marts and their declarations from this index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from orchestrator.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # where dbt_project.yml is
# The files dbt reads to build the manifest (dbt_project.yml's *-paths); their digest keys the
# cached index.
PROJECT_INPUTS = (
    "dbt_project.yml",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "analyses",
    "tests/dbt",
)
INDEX_FORMAT = 3
LEGACY_SOURCE = "legacy"
MAPPINGS_MART = "migration_mappings"  # bookkeeping: a mart, not an entity of the app


def index_path(project_dir: Path = PROJECT_ROOT) -> Path:
    return project_dir / "target" / "diffmig" / "project_index.json"


@dataclass(frozen=True)
class LegacyTable:
    """A mirrored legacy table (a table of the `legacy` source)."""

    name: str
    key: str = "id"


@dataclass(frozen=True)
class MartMeta:
    """A mart's `config.meta.diffmig` (see ADR 0002)."""

    legacy_table: str | None = None
    legacy_key: str | None = None
    source_key: str = "id"
    scope: str | None = None
    mapping_entity_type: str | None = None
    # owned column -> the SQL value a deletion in the legacy database sets (empty: none)
    soft_delete: dict[str, str] = field(default_factory=dict)
    # the earlier scripts' documented mapping conventions (name, entity_type, column)
    mapping_conventions: tuple[dict[str, str], ...] = ()
    # keep_oldest: an app table holding several rows of some legacy keys, without a unique
    # constraint on it (macros/entities/entity_pattern.sql, duplicate_targets)
    duplicate_targets: str | None = None


@dataclass(frozen=True)
class ProofCheck:
    """One data test the mart's YAML declares, as the run's proof reads it (proofs.py): its
    kind (the generic test's name), the column it tests, and its arguments with every ref() and
    source() resolved to a relation name (JSON text: strings, lists, mappings)."""

    name: str
    kind: str
    column: str | None
    args_json: str
    severity: str = "error"


@dataclass(frozen=True)
class Entity:
    """One target table (a mart) and what feeds it."""

    name: str  # the mart, named as the Supabase table
    unique_id: str
    tags: tuple[str, ...]
    legacy_tables: tuple[str, ...]  # mirrored legacy tables upstream of the mart
    parents: tuple[str, ...]  # entities (marts) this one refs, directly or not
    nodes: tuple[str, ...]  # every model/seed/snapshot to build for it (not other marts)
    mapped_models: tuple[str, ...] = ()  # the intermediate models the mart refs directly
    intermediate_models: tuple[str, ...] = ()  # every intermediate model upstream of the mart
    staging_models: tuple[str, ...] = ()  # every staging model upstream of the mart
    meta: MartMeta = field(default_factory=MartMeta)
    owned_columns: tuple[str, ...] = ()  # the mart's YAML columns, in YAML order
    unique_key: tuple[str, ...] = ()
    checks: tuple[ProofCheck, ...] = ()  # the mart's own data tests (proofs.py)
    mapped_relation: str | None = None  # "schema"."name" of the mapped model the mart reads


@dataclass(frozen=True)
class ProjectIndex:
    digest: str
    entities: tuple[Entity, ...]
    legacy_tables: tuple[LegacyTable, ...]

    @property
    def marts(self) -> list[str]:
        """Every mart (the app tables the mapping writes), in ref() order."""
        return [e.name for e in self.entities]

    def entity(self, name: str) -> Entity:
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise ConfigError(
            f"no mart named {name!r} in the dbt project",
            hint=f"choose among: {', '.join(self.marts)}",
        )

    def app_entities(self) -> list[Entity]:
        """The entities of the app (every mart but the mappings' bookkeeping one)."""
        return [e for e in self.entities if e.name != MAPPINGS_MART]


# --- the digest and the cache ---------------------------------------------------------------


def project_digest(project_dir: Path = PROJECT_ROOT) -> str:
    """A digest of every file dbt parses, and of dbt's version: equal digests, equal manifests
    (as far as the index goes). Reading them costs milliseconds."""
    from importlib.metadata import version

    digest = hashlib.sha256(version("dbt-core").encode())
    digest.update(f"index format {INDEX_FORMAT}".encode())
    for name in PROJECT_INPUTS:
        root = project_dir / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def to_json(index: ProjectIndex) -> str:
    return json.dumps(asdict(index), indent=1)


def from_json(text: str) -> ProjectIndex:
    """The index a `to_json` wrote; ValueError/KeyError/TypeError when it is not one."""
    doc = json.loads(text)
    return ProjectIndex(
        digest=str(doc["digest"]),
        entities=tuple(_entity(e) for e in doc["entities"]),
        legacy_tables=tuple(
            LegacyTable(str(t["name"]), str(t["key"])) for t in doc["legacy_tables"]
        ),
    )


def _strings(values: object) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise TypeError(f"expected a list, got {type(values).__name__}")
    return tuple(str(v) for v in values)


def _meta_from_json(meta: Mapping[str, object]) -> MartMeta:
    values: dict[str, object] = {str(k): v for k, v in meta.items()}
    conventions = values.get("mapping_conventions") or ()
    if not isinstance(conventions, (list, tuple)):
        raise TypeError("mapping_conventions is not a list")
    values["mapping_conventions"] = tuple(dict(c) for c in conventions)
    return MartMeta(**values)  # type: ignore[arg-type]


def _entity(doc: Mapping[str, object]) -> Entity:
    meta = doc["meta"]
    if not isinstance(meta, dict):
        raise TypeError("meta is not an object")
    return Entity(
        name=str(doc["name"]),
        unique_id=str(doc["unique_id"]),
        tags=_strings(doc["tags"]),
        legacy_tables=_strings(doc["legacy_tables"]),
        parents=_strings(doc["parents"]),
        nodes=_strings(doc["nodes"]),
        mapped_models=_strings(doc["mapped_models"]),
        intermediate_models=_strings(doc["intermediate_models"]),
        staging_models=_strings(doc["staging_models"]),
        meta=_meta_from_json(meta),
        owned_columns=_strings(doc["owned_columns"]),
        unique_key=_strings(doc["unique_key"]),
        checks=tuple(_check(c) for c in _list(doc.get("checks", []))),
        mapped_relation=None if doc.get("mapped_relation") is None else str(doc["mapped_relation"]),
    )


def _list(values: object) -> list[Mapping[str, object]]:
    if not isinstance(values, list):
        raise TypeError(f"expected a list, got {type(values).__name__}")
    return [v for v in values if isinstance(v, dict)]


def _check(doc: Mapping[str, object]) -> ProofCheck:
    column = doc.get("column")
    return ProofCheck(
        name=str(doc["name"]),
        kind=str(doc["kind"]),
        column=None if column is None else str(column),
        args_json=str(doc["args_json"]),
        severity=str(doc.get("severity", "error")),
    )


def read_index(cache: Path, digest: str) -> ProjectIndex | None:
    """The cached index when it was built from the project files of `digest`, else None."""
    try:
        index = from_json(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return index if index.digest == digest else None


def write_index(cache: Path, index: ProjectIndex) -> None:
    """Written whole or not at all (a concurrent reader never sees half a file)."""
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(to_json(index), encoding="utf-8")
        partial.replace(cache)


@contextmanager
def _building(cache: Path) -> Iterator[None]:
    """One process builds the index at a time (the others then find it cached)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.with_suffix(".lock").open("a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_index(
    settings: Settings | None = None, *, project_dir: Path = PROJECT_ROOT
) -> ProjectIndex:
    """The project's index: from the cache while the project's files are unchanged, else from
    a dbt parse (with `settings`' profile when given, else a placeholder one), then cached."""
    cache = index_path(project_dir)
    digest = project_digest(project_dir)
    found = read_index(cache, digest)
    if found is not None:
        return found
    with _building(cache):
        found = read_index(cache, digest)
        if found is not None:
            return found
        from orchestrator.dbt_runner import build_index  # lazy: imports dbt

        index = build_index(settings, project_dir=project_dir, digest=digest)
        write_index(cache, index)
        return index


def legacy_tables(settings: Settings | None = None) -> list[LegacyTable]:
    """The mirrored legacy tables, in the order the sources file lists them."""
    return list(load_index(settings).legacy_tables)
