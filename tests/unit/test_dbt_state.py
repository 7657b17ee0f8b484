"""diffmig's own dbt state: a target path per destination database (so another database's
parse never invalidates this one's partial parse) and the cached project index."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orchestrator.catalog import PROJECT_ROOT
from orchestrator.dbt_runner import KEEP_TARGETS, default_target_path
from orchestrator.project_index import (
    Entity,
    LegacyTable,
    ProjectIndex,
    from_json,
    project_digest,
    read_index,
    to_json,
    write_index,
)
from orchestrator.settings import Settings, load_settings


def settings(dbname: str, port: int = 5432) -> Settings:
    env = {
        "SOURCE_DB_HOST": "127.0.0.1",
        "SOURCE_DB_USER": "app",
        "SOURCE_DB_NAME": "mdw_db",
        "TARGET_DB_HOST": "127.0.0.1",
        "TARGET_DB_PORT": str(port),
        "TARGET_DB_USER": "postgres",
        "TARGET_DB_PASSWORD": "DbtStateSecret-31c9",
        "TARGET_DB_NAME": dbname,
    }
    return load_settings(environ=env, cwd=Path("/nonexistent"))


def test_one_target_path_per_destination_database(tmp_path: Path) -> None:
    first = default_target_path(settings("postgres"), tmp_path)
    assert first == default_target_path(settings("postgres"), tmp_path)
    assert first.parent == tmp_path / "target" / "diffmig"
    assert first != default_target_path(settings("other"), tmp_path)
    assert first != default_target_path(settings("postgres", 6543), tmp_path)
    assert "DbtStateSecret" not in str(first)


def test_old_target_paths_are_pruned_recent_ones_kept(tmp_path: Path) -> None:
    base = tmp_path / "target" / "diffmig"
    old = [base / f"old{i}" for i in range(KEEP_TARGETS + 3)]
    for i, path in enumerate(old):
        path.mkdir(parents=True)
        stamp = 1_000_000 + i  # 1970: long unused
        os.utime(path, (stamp, stamp))
    (base / "recent").mkdir()
    default_target_path(settings("postgres"), tmp_path)
    left = {p.name for p in base.iterdir()}
    assert "recent" in left
    assert len(left) == KEEP_TARGETS + 1  # the newest others (recent first), the one in use
    assert "old0" not in left


def test_entity_cache_follows_the_project_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "models", project / "models")
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", project / "dbt_project.yml")
    digest = project_digest(project)
    assert digest == project_digest(project)
    entities = [
        Entity("offices", "model.diffmig.offices", ("offices",), ("dispatch_office",), (), ("stg",))
    ]
    cache = tmp_path / "cache.json"
    write_index(cache, ProjectIndex(digest, tuple(entities), (LegacyTable("dispatch_office"),)))
    cached = read_index(cache, digest)
    assert cached is not None
    assert list(cached.entities) == entities

    model = next((project / "models").rglob("*.sql"))
    model.write_text(model.read_text(encoding="utf-8") + "\n-- changed\n", encoding="utf-8")
    changed = project_digest(project)
    assert changed != digest
    assert read_index(cache, changed) is None  # parsed again, then cached anew
    cache.write_text("{not json", encoding="utf-8")
    assert read_index(cache, digest) is None


def test_index_round_trips_through_json() -> None:
    from orchestrator.project_index import MartMeta

    entity = Entity(
        "offices",
        "model.diffmig.offices",
        ("offices",),
        ("dispatch_office",),
        (),
        ("stg_legacy__offices", "offices"),
        mapped_models=("int_offices_mapped",),
        staging_models=("stg_legacy__offices",),
        meta=MartMeta(legacy_table="dispatch_office", legacy_key="legacy_office_id"),
        owned_columns=("id", "name", "legacy_office_id"),
        unique_key=("legacy_office_id",),
    )
    index = ProjectIndex("d1", (entity,), (LegacyTable("dispatch_office", "id"),))
    assert from_json(to_json(index)) == index
