"""The only module that imports dbt, lazily (so `diffmig --help` stays instant).

dbt runs in-process through its programmatic runner: the project is parsed once, and the parsed
manifest is reused by every later invocation, so dbt's start-up cost is paid once per diffmig run.
The project's index (project_index.py: the entities in the marts' ref() order, their models,
legacy tables, declarations and owned columns, the mirrored legacy tables) is built here from the
parsed manifest (`build_index`); every other module reads the index, never the manifest.

dbt's partial parse (target/partial_parse.msgpack) is only reused when the profile's connection
values (host, port, user, database) are those it was saved with: any other database parsed into
the same target path (the test suite's clones, a second .env, dbt by hand) forces the next run to
parse the whole project again (20 to 40 s). diffmig therefore keeps its dbt state in a target
path of its own per destination database (`target/diffmig/<digest>/`); the index is cached beside
those (`target/diffmig/project_index.json`), keyed by a digest of the project's files: a run with
nothing to build does not import or invoke dbt at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.catalog import PROJECT_ROOT
from orchestrator.errors import ConfigError, RunFailed, diagnose
from orchestrator.project_index import (
    LEGACY_SOURCE,
    Entity,
    LegacyTable,
    MartMeta,
    ProjectIndex,
    ProofCheck,
    index_path,
    project_digest,
    read_index,
    write_index,
)
from orchestrator.settings import DbSettings, Secret, Settings, redact

# Per-database target paths kept besides the one in use: the newest few, and any used within the
# last hours (a concurrent process may be using it: each dbt invocation marks its path used).
KEEP_TARGETS = 6
KEEP_TARGET_SECONDS = 6 * 3600.0


# Flags of every build, test, seed and snapshot (each costs a second per invocation otherwise, and
# a run makes one per entity): no manifest.json and run_results.json rewritten (the parse writes
# manifest.json once; the results go to diffmig.build_results), and no listing of every relation
# of every schema up front (dbt lists a schema when it first needs it).
RUNNING_COMMANDS = frozenset({"build", "test", "seed", "snapshot"})
RUN_FLAGS = ("--no-write-json", "--no-populate-cache")

NodeCallback = Callable[[dict[str, Any]], None]


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
        # queries of views over seeds, and buys nothing here. dbt's sessions get diffmig's
        # statement_timeout too (hosted Supabase's 2-minute default would cut a large upsert).
        "PGOPTIONS": "-c jit=off"
        + (f" -c statement_timeout={target.statement_timeout}" if target.statement_timeout else ""),
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
        self.target_path = target_path or default_target_path(settings, project_dir)
        self.log_path = log_path or project_dir / "logs"
        self._manifest: Any = None
        self._index: ProjectIndex | None = None

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
            "--log-level-file",
            self.settings.dbt_log_level,
        ]

    def _invoke(self, args: list[str], on_node: NodeCallback | None = None) -> Any:
        if args[0] in RUNNING_COMMANDS:
            args = [*args, *RUN_FLAGS]
        if args[0] != "parse" and self._manifest is None:
            self.manifest()  # parsed once, reused by every invocation after it
        from dbt.cli.main import dbtRunner

        _keep_connections_open()
        _link_graph_once()
        with contextlib.suppress(OSError):
            os.utime(self.target_path)  # in use (see _prune_targets)
        callbacks = [_node_finished_callback(on_node)] if on_node else []
        runner = dbtRunner(manifest=self._manifest, callbacks=callbacks)
        # dbt prints its own lines on stdout, which belongs to diffmig's JSON output: send them
        # to stderr. Its file log handlers are replaced on every invocation without being
        # closed: close them, or each call leaks an open file.
        with _environment(dbt_env(self.settings)), contextlib.redirect_stdout(sys.stderr):
            try:
                result = runner.invoke([*args, *self._base_args(), "--quiet", "--no-use-colors"])
            finally:
                _close_dbt_log_files()
        if result.exception is not None:
            text = redact(str(result.exception))
            # An operational cause (the destination restarted, out of disk...) is named, with
            # what to do; anything else is dbt's or the project's, which `dbt debug` examines.
            found = diagnose(text)
            raise RunFailed(
                f"dbt {args[0]} failed" + (f": {found[0]}" if found else "") + f": {text}",
                hint=f"{found[1]}; then run the command again (`diffmig run --resume` continues "
                "a run from its checkpoints)"
                if found
                else "run `dbt debug --profiles-dir .` with the same settings to see why",
            )
        return result

    def manifest(self) -> Any:
        if self._manifest is None:
            args = ["parse"]
            # manifest.json (the docs site reads it) is written with the digest of the project
            # files it came from beside it; while that digest is current, so is the file: not
            # written again (most of a second).
            digest = project_digest(self.project_dir)
            stamp = self.target_path / "manifest.digest"
            current = (self.target_path / "manifest.json").is_file() and _read_text(stamp) == digest
            if current:
                args.append("--no-write-json")
            result = self._invoke(args)
            self._manifest = result.result
            if not current:
                with contextlib.suppress(OSError):
                    stamp.write_text(digest, encoding="utf-8")
        return self._manifest

    def index(self) -> ProjectIndex:
        """The project's index (project_index.py): cached while the project's files are those it
        was built from; otherwise built from the parsed manifest, and cached."""
        if self._index is None:
            cache = index_path(self.project_dir)
            digest = project_digest(self.project_dir)
            self._index = read_index(cache, digest)
            if self._index is None:
                self._index = index_from_manifest(self.manifest(), digest)
                write_index(cache, self._index)
        return self._index

    def entities(self) -> list[Entity]:
        """The marts in dependency order (parents before children), with their legacy tables."""
        return list(self.index().entities)

    def build(
        self,
        select: list[str],
        *,
        vars_: dict[str, Any] | None = None,
        indirect_selection: str = "buildable",
        on_node: NodeCallback | None = None,
        exclude: list[str] | None = None,
        tests: bool = True,
    ) -> BuildResult:
        """`dbt build` of `select`; `on_node` is told of each node as it finishes (name,
        resource_type, status, rows_affected), for progress. Without `tests` the data and unit
        tests are left out (a run proves its entities itself: proofs.py)."""
        # Tests run with the entity whose build makes all their inputs exist (a relationships
        # test from patients to profiles runs with patients, not before it).
        args = ["build", "--indirect-selection", indirect_selection, "--select", *select]
        if exclude:
            args += ["--exclude", *exclude]
        if not tests:
            args += ["--exclude-resource-type", "test", "unit_test"]
        if vars_:
            args += ["--vars", json.dumps(vars_)]
        result = self._invoke(args, on_node)
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

    def docs_generate(self, *, compile_nodes: bool = True) -> Path:
        """`dbt docs generate`: the mapping documentation site (index.html, manifest.json,
        catalog.json) in the target path, which it returns. Serve that folder over http (the page
        fetches its JSON files; file:// does not work). The site is written without dbt's
        anonymous usage tracking, so opening it loads no third-party script."""
        args = ["docs", "generate", "--no-send-anonymous-usage-stats"]
        if not compile_nodes:
            args.append("--no-compile")
        result = self._invoke(args)
        index = self.target_path / "index.html"
        if not result.success or not index.is_file():
            raise RunFailed(
                "dbt docs generate did not write the documentation site",
                hint=f"see dbt's log in {self.log_path}",
            )
        return self.target_path


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def default_target_path(settings: Settings, project_dir: Path = PROJECT_ROOT) -> Path:
    """diffmig's own dbt target path for this destination database (see the module docstring);
    older ones beyond the newest few are removed."""
    target = settings.target
    key = f"{target.host}|{target.port}|{target.user}|{target.dbname}|{target.sslmode}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    base = project_dir / "target" / "diffmig"
    path = base / digest
    path.mkdir(parents=True, exist_ok=True)
    os.utime(path)  # its mtime says when it was last used
    _prune_targets(base, keep=path)
    return path


def _prune_targets(base: Path, keep: Path) -> None:
    with contextlib.suppress(OSError):
        others = sorted(
            (p for p in base.iterdir() if p.is_dir() and p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        now = time.time()
        for old in others[KEEP_TARGETS:]:
            if now - old.stat().st_mtime > KEEP_TARGET_SECONDS:
                shutil.rmtree(old, ignore_errors=True)


def _node_finished_callback(on_node: NodeCallback) -> Callable[[Any], None]:
    """A dbt event callback that passes each NodeFinished on as a plain dict."""

    def callback(event: Any) -> None:
        if event.info.name != "NodeFinished":
            return
        data = event.data
        info = data.node_info
        rows = None
        with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
            response = data.run_result.adapter_response
            if "rows_affected" in response:
                rows = int(response["rows_affected"])
        node = {
            "name": info.node_name,
            "resource_type": info.resource_type,
            "status": info.node_status,
            "rows_affected": rows,
        }
        try:
            on_node(node)
        except Exception:  # noqa: BLE001 - progress must never fail the build it reports on
            logging.getLogger("diffmig.dbt").debug("progress callback failed", exc_info=True)

    return callback


def _keep_connections_open() -> None:
    """Make dbt keep each thread's connection open from one node to the next of an invocation.

    dbt closes the connection after every node, so each of a run's 500 nodes (most of them
    tests of a few milliseconds) paid for a new connection and a new server backend with cold
    catalog caches. Released, the connection is now rolled back (a node never leaves a
    transaction for the next) and kept; dbt still closes every connection at the end of the
    invocation (`cleanup_all`). A connection the server has closed, or whose rollback fails, is
    released as dbt would (closed), and the next node opens a new one. No node of this project
    changes session settings (`set` without `local`)."""
    from dbt.adapters.base.connections import BaseConnectionManager
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    if getattr(PostgresConnectionManager, "_diffmig_keeps_connections", False):
        return

    def release(self: Any) -> None:
        conn = self.get_if_exists()
        handle: Any = getattr(conn, "handle", None) if conn is not None else None
        if conn is None or conn.state != "open" or getattr(handle, "closed", 1):
            BaseConnectionManager.release(self)
            return
        try:
            if conn.transaction_open:
                handle.rollback()
                conn.transaction_open = False
        except Exception:  # noqa: BLE001 - a broken connection is closed, as dbt would
            BaseConnectionManager.release(self)
            return
        if handle.closed:  # the rollback found the server gone
            BaseConnectionManager.release(self)

    PostgresConnectionManager.release = release  # type: ignore[method-assign]
    PostgresConnectionManager._diffmig_keeps_connections = True  # type: ignore[attr-defined]


def _link_graph_once() -> None:
    """Make dbt link the manifest's graph once per manifest instead of once per invocation.

    Every build links every node of the project and adds the test edges (0.2 s per entity, a
    run makes one build per entity); the manifest is parsed once and passed to each invocation
    unchanged, so its graph is too. Keyed by the manifest object: a new parse links again."""
    from dbt.compilation import Compiler

    if getattr(Compiler, "_diffmig_links_once", False):
        return
    link = Compiler.compile
    last: list[tuple[Any, bool, Any]] = []  # (manifest, add_test_edges, graph): one at a time

    def compile_once(
        self: Any, manifest: Any, write: bool = True, add_test_edges: bool = False
    ) -> Any:
        if last and last[0][0] is manifest and last[0][1] == add_test_edges:
            self.initialize()
            return last[0][2]
        graph = link(self, manifest, write=write, add_test_edges=add_test_edges)
        last[:] = [(manifest, add_test_edges, graph)]
        return graph

    compile_once.__wrapped__ = link  # type: ignore[attr-defined]  # dbt's own, for inspection
    Compiler.compile = compile_once  # type: ignore[method-assign]
    Compiler._diffmig_links_once = True  # type: ignore[attr-defined]


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


# --- the project's index, from the parsed manifest ------------------------------------------


def build_index(
    settings: Settings | None, *, project_dir: Path = PROJECT_ROOT, digest: str
) -> ProjectIndex:
    """Parse the project and index it (project_index.load_index calls this when its cache is
    stale). Without settings the parse uses a placeholder profile in a target path of its own:
    a parse never connects, and the index does not depend on the destination."""
    if settings is None:
        project = DbtProject(
            _parse_only_settings(),
            project_dir=project_dir,
            target_path=project_dir / "target" / "diffmig" / "parse-only",
        )
    else:
        project = DbtProject(settings, project_dir=project_dir)
    return index_from_manifest(project.manifest(), digest)


def _parse_only_settings() -> Settings:
    def side(name: str) -> DbSettings:
        return DbSettings(
            side="source" if name == "source" else "target",
            host="localhost",
            port=5432,
            user="diffmig",
            password=Secret(""),
            dbname="diffmig_parse_only",
            sslmode="prefer",
        )

    return Settings(source=side("source"), target=side("target"))


def index_from_manifest(manifest: Any, digest: str) -> ProjectIndex:
    """The index of a parsed manifest (dbt's Manifest object)."""
    nodes = manifest.nodes
    marts = {
        uid: node
        for uid, node in nodes.items()
        if node.resource_type == "model" and "marts" in node.fqn
    }
    if not marts:
        raise ConfigError(
            "the dbt project has no marts (models/marts/)",
            hint="run diffmig from the project folder (where dbt_project.yml is)",
        )
    parent_map: dict[str, list[str]] = {
        uid: list(getattr(node.depends_on, "nodes", []) or []) for uid, node in nodes.items()
    }
    found: dict[str, Entity] = {}
    upstream: dict[str, set[str]] = {}
    for uid, node in marts.items():
        up = _ancestors(uid, parent_map)
        upstream[node.name] = up | {uid}
        found[node.name] = _mart_entity(manifest, uid, node, up, parent_map[uid], marts)
    return ProjectIndex(
        digest=digest,
        entities=tuple(
            dataclasses.replace(
                e,
                checks=_mart_checks(manifest, e.unique_id),
                mapped_relation=_relation_of(manifest, "ref", e.mapped_models[0])
                if len(e.mapped_models) == 1
                else None,
            )
            for e in _with_nodes(_topological(found), upstream, nodes, marts)
        ),
        legacy_tables=tuple(
            LegacyTable(source.name, str((source.meta or {}).get("key", "id")))
            for source in manifest.sources.values()
            if source.source_name == LEGACY_SOURCE
        ),
    )


_REF = re.compile(r"\{\{\s*(ref|source)\(([^)]*)\)\s*\}\}|\b(ref|source)\(([^)]*)\)")


def _relation_of(manifest: Any, call: str, args: str) -> str:
    """The relation a ref('x') or source('s', 't') call names, as "schema"."name" (without the
    database, which is the target's: the index serves every target)."""
    names = [a.strip().strip("'\"") for a in args.split(",")]
    if call == "ref":
        for node in manifest.nodes.values():
            if node.resource_type in ("model", "seed", "snapshot") and node.name == names[-1]:
                return f'"{node.schema}"."{node.alias or node.name}"'
    else:
        for source in manifest.sources.values():
            if (source.source_name, source.name) == tuple(names[:2]):
                return f'"{source.schema}"."{source.identifier or source.name}"'
    raise ConfigError(f"a test argument names {call}({args}), which the dbt project lacks")


def _resolved(manifest: Any, value: Any) -> Any:
    """A test argument with its ref() and source() calls replaced by relation names."""
    if isinstance(value, str):
        return _REF.sub(
            lambda m: _relation_of(manifest, m.group(1) or m.group(3), m.group(2) or m.group(4)),
            value,
        )
    if isinstance(value, list):
        return [_resolved(manifest, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _resolved(manifest, v) for k, v in value.items()}
    return value


def _mart_checks(manifest: Any, mart_uid: str) -> tuple[ProofCheck, ...]:
    """The data tests declared on the mart itself (attached to it), for the run's proof."""
    found = []
    for node in manifest.nodes.values():
        meta = getattr(node, "test_metadata", None)
        if node.resource_type != "test" or meta is None:
            continue
        if getattr(node, "attached_node", None) != mart_uid:
            continue
        kwargs = {k: v for k, v in (meta.kwargs or {}).items() if k != "model"}
        if node.config.get("where"):
            kwargs["where"] = node.config.get("where")
        severity = str(node.config.get("severity") or "error").lower()
        found.append(
            ProofCheck(
                name=node.name,
                kind=str(meta.name),
                column=getattr(node, "column_name", None) or kwargs.get("column_name"),
                args_json=json.dumps(_resolved(manifest, kwargs), sort_keys=True),
                severity="warn" if severity == "warn" else "error",
            )
        )
    return tuple(sorted(found, key=lambda c: c.name))


def _ancestors(uid: str, parent_map: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(parent_map.get(uid, []))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(parent_map.get(current, []))
    return seen


def _models_in(nodes: Any, uids: Iterable[str], folder: str) -> tuple[str, ...]:
    return tuple(
        sorted(
            nodes[u].name
            for u in uids
            if u in nodes and nodes[u].resource_type == "model" and folder in nodes[u].fqn
        )
    )


def _mart_entity(
    manifest: Any, uid: str, node: Any, up: set[str], direct: list[str], marts: dict[str, Any]
) -> Entity:
    nodes = manifest.nodes
    legacy = sorted(
        manifest.sources[s].name
        for s in up
        if s.startswith("source.") and manifest.sources[s].source_name == LEGACY_SOURCE
    )
    return Entity(
        name=node.name,
        unique_id=uid,
        tags=tuple(node.tags),
        legacy_tables=tuple(legacy),
        parents=tuple(sorted(marts[p].name for p in up if p in marts)),
        nodes=(),
        mapped_models=_models_in(nodes, direct, "intermediate"),
        intermediate_models=_models_in(nodes, up, "intermediate"),
        staging_models=_models_in(nodes, up, "staging"),
        meta=_mart_meta(node),
        owned_columns=_owned_columns(node),
        unique_key=_unique_key(node.config.get("unique_key")),
    )


def _mart_meta(node: Any) -> MartMeta:
    """The mart's `config.meta.diffmig`: its known keys as text, soft_delete as a mapping and
    mapping_conventions as a list of mappings."""
    meta = (node.config.meta or {}).get("diffmig") or (node.meta or {}).get("diffmig") or {}
    known = MartMeta.__dataclass_fields__
    values: dict[str, Any] = {}
    for key, value in meta.items():
        if key not in known or value is None:
            continue
        if key == "soft_delete":
            # column -> SQL value; anything else is prose (no column to set)
            items = value.items() if isinstance(value, dict) else ()
            values[key] = {str(k): str(v) for k, v in items}
        elif key == "mapping_conventions":
            values[key] = tuple({str(k): str(v) for k, v in dict(c).items()} for c in value)
        else:
            values[key] = str(value)
    return MartMeta(**values)


def _owned_columns(node: Any) -> tuple[str, ...]:
    """The mart's documented columns, in YAML order, but those marked `owned: false` in their
    meta (documented and tested, never written): the same rule as macros/entities."""
    owned = []
    for name, column in node.columns.items():
        config = getattr(column, "config", None)
        meta = (getattr(config, "meta", None) or {}) or (column.meta or {})
        if meta.get("owned", True):
            owned.append(name)
    return tuple(owned)


def _unique_key(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _with_nodes(
    ordered: list[Entity], upstream: dict[str, set[str]], nodes: Any, marts: dict[str, Any]
) -> Iterator[Entity]:
    """Each entity builds its mart and the ancestors no earlier entity has built (seeds,
    staging and key views are shared: built once, by the first entity that needs them)."""
    built: set[str] = set()
    for entity in ordered:
        own = {
            n
            for n in upstream[entity.name]
            if n in nodes and (n == entity.unique_id or n not in marts) and n not in built
        }
        built |= own
        yield dataclasses.replace(entity, nodes=tuple(sorted(nodes[n].name for n in own)))
