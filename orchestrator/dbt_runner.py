"""The only module that imports dbt, lazily (so `diffmig --help` stays instant).

dbt runs in-process through its programmatic runner: the project is parsed once, and the parsed
manifest is reused by every later invocation, so dbt's start-up cost is paid once per diffmig run.
The entity order is read from the manifest: the marts (models/marts/) are the entities, ordered by
their ref() graph; an entity's legacy tables are the `legacy` sources upstream of its mart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.catalog import PROJECT_ROOT
from orchestrator.errors import ConfigError, RunFailed
from orchestrator.settings import Settings, redact


@dataclass(frozen=True)
class Entity:
    """One target table and what feeds it."""

    name: str  # the mart, named as the Supabase table
    unique_id: str
    tags: tuple[str, ...]
    legacy_tables: tuple[str, ...]  # mirrored legacy tables upstream of the mart
    parents: tuple[str, ...]  # entities (marts) this one refs, directly or not
    nodes: tuple[str, ...]  # every model/seed/snapshot to build for it (not other marts)


@dataclass
class NodeResult:
    name: str
    resource_type: str
    status: str
    message: str
    rows_affected: int | None = None
    failures: int | None = None
    seconds: float = 0.0


@dataclass
class BuildResult:
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment profiles.yml reads. Passwords go in DBT_ENV_SECRET_*, which dbt scrubs."""
    target = settings.target
    return {
        "TARGET_DB_HOST": target.host,
        "TARGET_DB_PORT": str(target.port),
        "TARGET_DB_USER": target.user,
        "TARGET_DB_NAME": target.dbname,
        "TARGET_DB_SSLMODE": target.sslmode,
        "DBT_ENV_SECRET_TARGET_DB_PASSWORD": target.password.reveal(),
        # libpq reads PGOPTIONS: JIT compilation costs seconds on the small, badly estimated
        # queries of views over seeds, and buys nothing here.
        "PGOPTIONS": "-c jit=off",
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DbtProject:
    """The dbt project of this checkout, parsed once."""

    def __init__(
        self,
        settings: Settings,
        *,
        project_dir: Path = PROJECT_ROOT,
        target_path: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.project_dir = project_dir
        self.target_path = target_path or project_dir / "target"
        self.log_path = log_path or project_dir / "logs"
        self._manifest: Any = None

    def _base_args(self) -> list[str]:
        return [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.project_dir),
            "--target-path",
            str(self.target_path),
            "--log-path",
            str(self.log_path),
        ]

    def _invoke(self, args: list[str]) -> Any:
        from dbt.cli.main import dbtRunner

        runner = dbtRunner(manifest=self._manifest) if self._manifest is not None else dbtRunner()
        # dbt prints its own lines on stdout, which belongs to diffmig's JSON output: send them
        # to stderr. Its file log handlers are replaced on every invocation without being
        # closed: close them, or each call leaks an open file.
        with _environment(dbt_env(self.settings)), contextlib.redirect_stdout(sys.stderr):
            try:
                result = runner.invoke([*args, *self._base_args(), "--quiet", "--no-use-colors"])
            finally:
                _close_dbt_log_files()
        if result.exception is not None:
            raise RunFailed(
                f"dbt {args[0]} failed: {redact(str(result.exception))}",
                hint="run `dbt debug --profiles-dir .` with the same settings to see why",
            )
        return result

    def manifest(self) -> Any:
        if self._manifest is None:
            result = self._invoke(["parse"])
            self._manifest = result.result
        return self._manifest

    def entities(self) -> list[Entity]:
        """The marts in dependency order (parents before children), with their legacy tables."""
        manifest = self.manifest()
        nodes = manifest.nodes
        marts = {
            uid: node
            for uid, node in nodes.items()
            if node.resource_type == "model" and "marts" in node.fqn
        }
        if not marts:
            raise ConfigError("the dbt project has no marts (models/marts/)")
        parent_map: dict[str, list[str]] = {
            uid: list(getattr(node.depends_on, "nodes", []) or []) for uid, node in nodes.items()
        }

        def ancestors(uid: str) -> set[str]:
            seen: set[str] = set()
            stack = list(parent_map.get(uid, []))
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                stack.extend(parent_map.get(current, []))
            return seen

        found: dict[str, Entity] = {}
        upstream: dict[str, set[str]] = {}
        for uid, node in marts.items():
            up = ancestors(uid)
            upstream[node.name] = up | {uid}
            legacy = sorted(
                manifest.sources[s].name
                for s in up
                if s.startswith("source.") and manifest.sources[s].source_name == "legacy"
            )
            found[node.name] = Entity(
                name=node.name,
                unique_id=uid,
                tags=tuple(node.tags),
                legacy_tables=tuple(legacy),
                parents=tuple(sorted(marts[p].name for p in up if p in marts)),
                nodes=(),
            )
        # Each entity builds its mart and the ancestors no earlier entity has built (seeds,
        # staging and key views are shared: built once, by the first entity that needs them).
        built: set[str] = set()
        ordered = []
        for entity in _topological(found):
            own = {
                n
                for n in upstream[entity.name]
                if n in nodes and (n == entity.unique_id or n not in marts) and n not in built
            }
            built |= own
            ordered.append(
                Entity(**{**entity.__dict__, "nodes": tuple(sorted(nodes[n].name for n in own))})
            )
        return ordered

    def build(
        self,
        select: list[str],
        *,
        vars_: dict[str, Any] | None = None,
        indirect_selection: str = "buildable",
    ) -> BuildResult:
        # Tests run with the entity whose build makes all their inputs exist (a relationships
        # test from patients to profiles runs with patients, not before it).
        args = ["build", "--indirect-selection", indirect_selection, "--select", *select]
        if vars_:
            args += ["--vars", json.dumps(vars_)]
        result = self._invoke(args)
        return _collect(result)

    def snapshot(self, select: list[str]) -> BuildResult:
        """History of the staged legacy tables (snapshots/_legacy__snapshots.yml)."""
        return _collect(self._invoke(["snapshot", "--select", *select]))

    def seed(self) -> BuildResult:
        return _collect(self._invoke(["seed"]))

    def test(
        self, select: list[str] | None = None, *, indirect_selection: str | None = None
    ) -> BuildResult:
        """`dbt test` (every test, or those of `select`; indirect_selection as dbt's option),
        storing every test's failing rows in its table of the data tests' schema
        (diffmig_audit)."""
        args = ["test", "--store-failures"]
        if select:
            args += ["--select", *select]
        if indirect_selection:
            args += ["--indirect-selection", indirect_selection]
        return _collect(self._invoke(args))


def _close_dbt_log_files() -> None:
    """dbt_common replaces its log file handler at each invocation without closing the old one."""
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for handler in list(getattr(logger, "handlers", [])):
            if isinstance(handler, logging.FileHandler):
                handler.close()


def _topological(entities: dict[str, Entity]) -> list[Entity]:
    ordered: list[Entity] = []
    placed: set[str] = set()
    remaining = dict(sorted(entities.items()))
    while remaining:
        ready = [e for e in remaining.values() if set(e.parents) <= placed]
        if not ready:
            raise ConfigError(f"the marts' ref() graph has a cycle among {sorted(remaining)}")
        for entity in ready:
            ordered.append(entity)
            placed.add(entity.name)
            del remaining[entity.name]
    return ordered


def _collect(result: Any) -> BuildResult:
    nodes: list[NodeResult] = []
    for item in getattr(result.result, "results", []) or []:
        node = item.node
        adapter = getattr(item, "adapter_response", {}) or {}
        nodes.append(
            NodeResult(
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(item.status),
                message=redact(str(item.message or "")),
                rows_affected=adapter.get("rows_affected"),
                failures=getattr(item, "failures", None),
                seconds=float(getattr(item, "execution_time", 0.0) or 0.0),
            )
        )
    return BuildResult(success=bool(result.success), nodes=nodes)
