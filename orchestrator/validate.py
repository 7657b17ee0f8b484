"""`diffmig validate`: prove the target. Runs the dbt project's data tests (`dbt test
--store-failures`: each test's failing rows land in its table of the data tests' schema,
diffmig_audit) and the migration_mappings checks (orchestrator/mappings.py), and names the keys
behind every failure.

Scope: by default the tests of what the runs build, for every entity a run has applied: the
tests dbt's `buildable` indirect selection finds for the nodes of those entities (so not the
tests of a model no entity builds, e.g. a key view no mart reads: no run creates it, and testing
it would fail on a relation that does not exist), and every declared mapping entity type (those
of the applied entities when some were never applied). Entities no run has applied yet, and the
models no entity builds, are named in the report (`not_applied`, `unbuilt_models`). Or the tests
and mapping types of some entities (marts): an entity's tests are the tests dbt's `buildable` indirect selection finds for the nodes it
builds (Entity.nodes: its mart and the staging, key and mapping models no earlier entity builds):
tests whose parents are those nodes or their ancestors; so not another mart's test that merely
also reads one of them, nor the marts' mapping_integrity tests (they read the migration_mappings
mart; the mapping checks cover them). Its mapping types are those its mart declares.
`select` passes a dbt selection instead (the mapping checks then cover `entities`, or all).

dbt's own console lines go to stderr: stdout carries only the command's result.

Violations (exit 1): a test that fails or errors, a mapping problem of orchestrator.mappings
.VIOLATIONS. Tests configured `severity: warn` that find rows are listed, not counted; so is junk
in migration_mappings (the earlier scripts' leftovers, never trusted).
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import db
from orchestrator.bookkeeping import runs, watermarks
from orchestrator.bookkeeping.schema import ensure_schema
from orchestrator.dbt_runner import DbtProject, NodeResult
from orchestrator.errors import ConfigError
from orchestrator.mappings import CheckReport, check_mappings, mapped_entities
from orchestrator.proofs import EntityProof, prove_target
from orchestrator.settings import Settings, redact

FAILED = ("fail", "error", "runtime error")
REPORTED = (*FAILED, "warn")

# Columns that name a failing row, by preference (the project's tests put the legacy key first).
_KEY_HINTS = ("unique_field", "from_field", "value_field", "id", "key")
_CONTEXT = ("entity_type", "problem")


@dataclass
class TestOutcome:
    name: str
    status: str
    failures: int | None
    message: str
    relation: str | None = None
    key_columns: list[str] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)

    @property
    def violation(self) -> bool:
        return self.status in FAILED

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.name,
            "status": self.status,
            "failures": self.failures,
            "message": one_line(self.message),
            "relation": self.relation,
            "key_columns": self.key_columns,
            "keys": self.keys,
        }


@dataclass
class ValidationReport:
    selection: list[str] | None
    tests_run: list[str]
    outcomes: list[TestOutcome]
    mappings: CheckReport
    seconds: float = 0.0
    not_applied: list[str] = field(default_factory=list)
    unbuilt_models: list[str] = field(default_factory=list)
    # What was proven: "full" (every test, every bucket), "changed since the last proof", or
    # "selection" (the dbt tests of --entities or --select); and the proofs (proofs.py).
    proved: str = "selection"
    proofs: list[EntityProof] = field(default_factory=list)

    @property
    def violations(self) -> int:
        failed_proofs = sum(1 for p in self.proofs if p.errors)
        return (
            sum(1 for o in self.outcomes if o.violation) + self.mappings.violations + failed_proofs
        )

    def as_dict(self) -> dict[str, Any]:
        failed = [o for o in self.outcomes if o.violation]
        return {
            "selection": self.selection,
            "tests": {
                "run": len(self.tests_run),
                "names": self.tests_run,
                "failed": len(failed),
                "warned": sum(1 for o in self.outcomes if o.status == "warn"),
            },
            "failing_tests": [o.as_dict() for o in self.outcomes],
            "mappings": self.mappings.as_dict(),
            "not_applied": self.not_applied,
            "unbuilt_models": self.unbuilt_models,
            "proved": self.proved,
            "proofs": [p.as_dict() for p in self.proofs],
            "violations": self.violations,
            "clean": self.violations == 0,
            "elapsed_s": round(self.seconds, 3),
        }


def validate(
    settings: Settings,
    *,
    entities: Sequence[str] | None = None,
    select: Sequence[str] | None = None,
    project: DbtProject | None = None,
    full: bool = False,
) -> ValidationReport:
    """With `entities` or `select`: their dbt tests. Else every applied entity is proven:
    `full`, every dbt test and every bucket of the parity ledger; otherwise what changed since
    each entity's last proof (proofs.py), without the dbt tests."""
    started = time.monotonic()
    project = project or DbtProject(settings)
    not_applied: list[str] = []
    selected = bool(entities or select)
    proved = "selection" if selected else ("full" if full else "changed since the last proof")
    if not selected:
        entities, not_applied = _applied(settings, project)
    selection, mapping_types = _scope(project, entities, select)
    # No run applied anything yet (every entity not applied): nothing is built to prove.
    nothing_applied = entities is None and bool(not_applied)
    proofs = [] if selected or nothing_applied else _prove(settings, project, entities, full=full)
    tests: list[NodeResult] = []
    if selected or full:
        # dbt prints failures on stdout, which is the command's result (one JSON document).
        with contextlib.redirect_stdout(sys.stderr):
            result = project.test(selection, indirect_selection=None if select else "buildable")
        tests = [n for n in result.nodes if n.resource_type == "test"]
    outcomes = [_outcome(project, n) for n in tests if n.status in REPORTED]
    if outcomes:
        with db.connection(settings.target, application_name="diffmig validate") as conn:
            for outcome in outcomes:
                _read_keys(conn, outcome)
    mappings = (
        check_mappings(settings, entities=mapping_types)
        if mapping_types != []
        else CheckReport(entities=[], findings=[], undeclared_reported=False)
    )
    return ValidationReport(
        selection=selection,
        tests_run=sorted(n.name for n in tests),
        outcomes=outcomes,
        mappings=mappings,
        seconds=time.monotonic() - started,
        not_applied=not_applied,
        unbuilt_models=[] if select else unbuilt_models(project),
        proved=proved,
        proofs=proofs,
    )


def _prove(
    settings: Settings, project: DbtProject, entities: Sequence[str] | None, *, full: bool
) -> list[EntityProof]:
    """The proofs of the applied entities (all when `entities` is None), recorded as proofs of
    the latest run."""
    chosen = [e for e in project.entities() if entities is None or e.name in entities]
    with db.connection(settings.target, application_name="diffmig validate") as conn:
        ensure_schema(conn)
        run_id = runs.latest_run_id(conn) or 0
        return prove_target(conn, run_id, chosen, settings.proof_rotation, full=full)


def _applied(settings: Settings, project: DbtProject) -> tuple[list[str] | None, list[str]]:
    """The entities to prove by default (every one some run applied; None: all, as when no
    subset can be told apart) and those no run has applied yet."""
    with db.connection(settings.target, application_name="diffmig validate") as conn:
        applied = watermarks.applied_entities(conn)
    names = [e.name for e in project.entities()]
    chosen = [n for n in names if n in applied]
    if not chosen:
        return None, names if not applied else []
    left = [n for n in names if n not in applied]
    return (chosen if left else None), left


def unbuilt_models(project: DbtProject) -> list[str]:
    """The models no entity builds (upstream of no mart): no run creates them, so their tests
    are not part of the proof."""
    built = {n for e in project.entities() for n in e.nodes}
    return sorted(
        node.name
        for node in project.manifest().nodes.values()
        if node.resource_type == "model" and node.name not in built
    )


def _scope(
    project: DbtProject, entities: Sequence[str] | None, select: Sequence[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """The dbt selection (None: every test) and the mapping entity types (None: all)."""
    if not entities:
        if select:
            return list(select), None
        # Every test of what the runs build: dbt's buildable selection over every entity's nodes.
        built = sorted({n for e in project.entities() for n in e.nodes})
        return built, None
    known = {e.name: e for e in project.entities()}
    unknown = [e for e in entities if e not in known]
    if unknown:
        raise ConfigError(
            f"not an entity: {', '.join(unknown)}",
            hint=f"choose among: {', '.join(known)}",
        )
    nodes = sorted({n for e in entities for n in known[e].nodes})
    types = [m.entity_type for m in mapped_entities() if m.table in entities]
    # No declared type among them: check nothing rather than everything.
    return (list(select) if select else nodes), (types or [])


def _outcome(project: DbtProject, node: NodeResult) -> TestOutcome:
    outcome = TestOutcome(node.name, node.status, node.failures, node.message)
    manifest_node = _test_node(project, node.name)
    if manifest_node is not None:
        schema = getattr(manifest_node, "schema", None)
        alias = getattr(manifest_node, "alias", None) or node.name
        if schema:
            outcome.relation = f"{schema}.{alias}"
    return outcome


def _test_node(project: DbtProject, name: str) -> Any:
    for node in project.manifest().nodes.values():
        if node.resource_type == "test" and node.name == name:
            return node
    return None


def key_columns(columns: Sequence[str]) -> list[str]:
    """The columns that name a failing row: legacy keys, else the test's own key column, else
    the first column; with entity_type and problem when the test has them."""
    keys = [c for c in columns if re.search(r"legacy", c) and c not in _CONTEXT]
    if not keys:
        keys = [c for c in _KEY_HINTS if c in columns][:1] or list(columns[:1])
    return [c for c in _CONTEXT if c in columns] + keys


def _read_keys(conn: psycopg.Connection, outcome: TestOutcome) -> None:
    """Every failing row's key, read from the table dbt stored them in."""
    if outcome.relation is None or outcome.status == "error":
        return
    schema, table = outcome.relation.split(".", 1)
    relation = sql.Identifier(schema, table)
    try:
        with conn.transaction():
            cur = conn.execute(sql.SQL("select * from {} limit 0").format(relation))
            columns = [d.name for d in cur.description or []]
            chosen = key_columns(columns)
            rows = conn.execute(
                sql.SQL("select {cols} from {rel} order by {cols}").format(
                    cols=sql.SQL(", ").join(sql.Identifier(c) for c in chosen), rel=relation
                )
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        outcome.relation = None
        return
    outcome.key_columns = chosen
    rows.sort(key=lambda row: tuple(_natural(v) for v in row))
    outcome.keys = [
        {
            c: (v if v is None or isinstance(v, (int, float, bool)) else redact(str(v)))
            for c, v in zip(chosen, row, strict=True)
        }
        for row in rows
    ]


def _natural(value: Any) -> tuple[int, float, str]:
    """Sorts numbers held as text (a parity test's legacy_key) as numbers, nulls first."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), "")
    text = str(value)
    return (1, float(text), "") if text.isdigit() else (2, 0.0, text)


def one_line(message: str) -> str:
    """A dbt error message on one line, without the SQL excerpt (LINE n: ..., ^)."""
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(("LINE ", "^"))]
    return " ".join(kept)


def describe_keys(outcome: TestOutcome, limit: int) -> str:
    """The first `limit` failing rows' keys, compactly: grouped by their context columns
    (entity_type, problem), the key values after it (e.g. 'missing_in_target: legacy_key 3, 6')."""
    if not outcome.keys:
        return one_line(outcome.message)
    context = [c for c in outcome.key_columns if c in _CONTEXT]
    values = [c for c in outcome.key_columns if c not in _CONTEXT]
    groups: dict[str, list[str]] = {}
    for row in outcome.keys[:limit]:
        label = " ".join(str(row[c]) for c in context)
        shown = ", ".join(f"{row[c]}" for c in values) if len(values) > 1 else str(row[values[0]])
        groups.setdefault(label, []).append(f"({shown})" if len(values) > 1 else shown)
    names = ", ".join(values)
    text = "; ".join(
        (f"{label}: " if label else "") + f"{names} " + ", ".join(keys)
        for label, keys in groups.items()
    )
    more = len(outcome.keys) - limit
    return text + (f" ... (+{more:,})" if more > 0 else "")
