"""A run's proof of one entity (ADR 0011): one proof per touched entity instead of its dbt tests,
costing what the change costs.

The checks are the data tests the mart's YAML declares (the project index's Entity.checks), each
proved the cheapest honest way:
    unique, not_null, unique_combination   from the catalog when PostgreSQL enforces it (a valid
                        unique index, a NOT NULL column: enforced for every writer); else over
                        the rows the run touched (delta) or every row (full)
    relationships       from the catalog when a real foreign key holds it (present, validated,
                        its triggers enabled) in a delta; else, and in every full proof (a
                        foreign key is skipped by writes made in replica mode, as the earlier
                        scripts loaded), the touched rows (delta) or every row (full) have their parent
    relationships_polymorphic, accepted_values   the touched rows, or every row
    parity_with_source  the parity ledger (bookkeeping/ledger.py): the buckets of legacy keys the
                        change touched, plus a rotating slice of the others (every bucket within
                        `proof_rotation` runs), or every bucket
    mapping_integrity   not in a run's proof: the mappings mart is written after the entity
                        (the checks of `diffmig validate` cover it)
A proof is full, never delta, in a full run, in an entity's first proof, and when the tripwire
(ledger.check_tripwires) saw another role write to its app table, or to the app table of a
parent it references. The touched rows are the app table's rows whose unique key is among the
rows the build mapped (the entity's mapped model).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from orchestrator.bookkeeping import ledger
from orchestrator.project_index import Entity, ProofCheck

# Integer keys are bucketed by ranges of 2**BUCKET_SHIFT keys.
BUCKET_SHIFT = 10
SAMPLE_KEYS = 20
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RELATION = re.compile(r'^"([^"]+)"\."([^"]+)"$')


@dataclass
class CheckOutcome:
    name: str
    kind: str
    severity: str
    how: str  # catalog, touched rows, all rows, buckets
    failures: int = 0
    sample: list[str] = field(default_factory=list)
    buckets: int = 0  # parity: buckets proven now
    ledger_buckets: int = 0


@dataclass
class EntityProof:
    """What a run proved of one entity."""

    entity: str
    scope: str  # full, delta
    reason: str
    checks: list[CheckOutcome] = field(default_factory=list)
    touched_buckets: int = 0
    slice_buckets: int = 0
    ledger_buckets: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(c.failures for c in self.checks if c.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(c.failures for c in self.checks if c.severity != "error")

    def as_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "scope": self.scope,
            "reason": self.reason,
            "touched_buckets": self.touched_buckets,
            "slice_buckets": self.slice_buckets,
            "ledger_buckets": self.ledger_buckets,
            "errors": self.errors,
            "warnings": self.warnings,
            "failing_checks": [asdict(c) for c in self.failed_checks()],
        }

    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.failures]

    def message(self) -> str:
        parts = [
            f"{self.scope} proof ({self.reason}): {len(self.checks)} checks, "
            f"{self.touched_buckets} touched and {self.slice_buckets} slice buckets of "
            f"{self.ledger_buckets}"
        ]
        for check in self.failed_checks():
            keys = ", ".join(check.sample[:5])
            parts.append(f"{check.name} ({check.severity}): {check.failures} rows [{keys}]")
        return "; ".join(parts)


def _relation(text: str) -> sql.Composable:
    found = _RELATION.match(text.strip())
    return sql.Identifier(*found.groups()) if found else sql.SQL(text)


def _row_key(entity: Entity) -> sql.Composable:
    """What names a row in a failure: its unique key's columns."""
    columns = entity.unique_key or ("id",)
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _args(check: ProofCheck) -> dict[str, object]:
    loaded = json.loads(check.args_json)
    return loaded if isinstance(loaded, dict) else {}


class Prover:
    """Proves the entities of one run on the bookkeeping connection."""

    def __init__(self, conn: psycopg.Connection, run_id: int, rotation: int) -> None:
        self.conn = conn
        self.run_id = run_id
        self.rotation = rotation
        self.full: dict[str, str] = {}  # entity -> why its proof is full (the tripwire's)
        self.tripped_tables: set[str] = set()

    def tripwires(self, entities: Sequence[Entity]) -> dict[str, str]:
        """Before the run writes: the entities whose proof must be full, and why."""
        with self.conn.transaction():
            found = ledger.check_tripwires(self.conn, {e.name: e.name for e in entities})
        self.full = {t.entity: t.reason for t in found if t.reason}
        self.tripped_tables = {
            e for e, reason in self.full.items() if reason != "no full proof yet"
        }
        return self.full

    def own_writes(self, entity: str, rows: int) -> None:
        """Rows the entity's build wrote to its app table (not the tripwire's business)."""
        if rows:
            ledger.add_own_writes(self.conn, entity, rows)

    def prove(
        self, entity: Entity, *, full: str | None, since: int, changed: bool = True
    ) -> EntityProof:
        """Prove the entity: in full when `full` (the reason) or the tripwire says so; else,
        when it `changed`, what changed since `since` plus the rotating slice; else the slice
        of its parity ledger only."""
        started = time.monotonic()
        reason = full or self.full.get(entity.name)
        scope = "full" if reason else ("delta" if changed else "slice")
        proof = EntityProof(
            entity.name,
            scope,
            reason or ("changed rows" if changed else "no change: the rotating slice"),
        )
        position = ledger.proof_position(self.conn, entity.name, entity.name)
        touched = self._touched(entity) if not reason else None
        for check in entity.checks:
            if scope == "slice" and check.kind != "parity_with_source":
                continue
            outcome = self._check(entity, check, touched, since, position, proof)
            if outcome is not None:
                proof.checks.append(outcome)
        proof.seconds = time.monotonic() - started
        ledger.record_proof(
            self.conn,
            run_id=self.run_id,
            entity=entity.name,
            scope=proof.scope,
            reason=proof.reason,
            touched=proof.touched_buckets,
            sliced=proof.slice_buckets,
            ledger=proof.ledger_buckets,
            checks=[asdict(c) for c in proof.checks],
            failures=proof.errors,
            seconds=proof.seconds,
        )
        return proof

    # --- the touched rows -----------------------------------------------------------------

    def _touched(self, entity: Entity) -> sql.Composable | None:
        """The app table's rows the build touched (unique key among the mapped model's rows);
        None when that cannot be told (no single mapped model or no unique key): all rows."""
        if not entity.mapped_relation or not entity.unique_key:
            return None
        keys = sql.SQL(", ").join(sql.Identifier(k) for k in entity.unique_key)
        return sql.SQL(
            "select model.* from {mart} as model where ({keys}) in (select {keys} from {mapped})"
        ).format(
            mart=sql.Identifier("public", entity.name),
            keys=keys,
            mapped=_relation(entity.mapped_relation),
        )

    def _rows(self, entity: Entity, touched: sql.Composable | None) -> sql.Composable:
        if touched is None:
            return sql.SQL("select * from {}").format(sql.Identifier("public", entity.name))
        return touched

    # --- one check ------------------------------------------------------------------------

    def _check(
        self,
        entity: Entity,
        check: ProofCheck,
        touched: sql.Composable | None,
        since: int,
        position: int,
        proof: EntityProof,
    ) -> CheckOutcome | None:
        args = _args(check)
        outcome = CheckOutcome(check.name, check.kind, check.severity, "all rows")
        delta = proof.scope != "full"
        if delta and touched is not None:
            outcome.how = "touched rows"
        mart = sql.Identifier("public", entity.name)
        rows = self._rows(entity, touched if delta else None)
        if args.get("where"):
            # The test's own `where` config (dbt's): the rows it declares out of scope (profiles:
            # the earlier migration's system profile, which has no legacy user).
            rows = sql.SQL("select * from ({rows}) as declared where ({where})").format(
                rows=rows, where=sql.SQL(str(args["where"]))
            )
        if check.kind == "parity_with_source":
            return self._parity(entity, check, args, since, position, proof, outcome)
        query: sql.Composed
        if check.kind == "unique_combination":
            columns = _strings(args.get("combination"))
            if self._catalog_unique(entity.name, columns, not_null=True):
                outcome.how = "catalog"
                return outcome
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            query = sql.SQL(
                "select concat_ws(':', {cols}) from {mart} where ({cols}) in (select {cols} from "
                "({rows}) as touched) group by {cols} having count(*) > 1"
            ).format(cols=cols, mart=mart, rows=rows)
        elif check.kind == "unique" and check.column:
            if self._catalog_unique(entity.name, [check.column]):
                outcome.how = "catalog"
                return outcome
            col = sql.SQL(check.column)
            query = sql.SQL(
                "select ({col})::text from {mart} where ({col}) in (select ({col}) from ({rows}) "
                "as touched) group by ({col}) having count(*) > 1"
            ).format(col=col, mart=mart, rows=rows)
        elif check.kind == "not_null" and check.column:
            if self._catalog_not_null(entity.name, check.column):
                outcome.how = "catalog"
                return outcome
            query = sql.SQL(
                "select concat_ws(':', {keys}) from ({rows}) as touched where ({col}) is null"
            ).format(keys=_row_key(entity), rows=rows, col=sql.SQL(check.column))
        elif check.kind == "relationships" and check.column:
            parent, field_ = str(args.get("to")), str(args.get("field"))
            parent_full = self._parent_tripped(parent)
            if (
                delta
                and not parent_full
                and self._catalog_foreign_key(entity.name, check.column, parent, field_)
            ):
                outcome.how = "catalog"
                return outcome
            if parent_full:
                rows = self._rows(entity, None)
                outcome.how = "all rows"
            query = sql.SQL(
                "select ({col})::text from ({rows}) as touched where ({col}) is not null and "
                "not exists (select 1 from {parent} as parent where parent.{field} = touched.{col})"
            ).format(
                col=sql.SQL(check.column),
                rows=rows,
                parent=_relation(parent),
                field=sql.SQL(field_),
            )
        elif check.kind == "relationships_polymorphic" and check.column:
            query, rows_all = self._polymorphic(entity, check, args, rows)
            if rows_all:
                outcome.how = "all rows"
        elif check.kind == "accepted_values" and check.column:
            values = _strings(args.get("values"))
            query = sql.SQL(
                "select ({col})::text from ({rows}) as touched where ({col})::text not in ({vals})"
            ).format(
                col=sql.SQL(check.column),
                rows=rows,
                vals=sql.SQL(", ").join(sql.Literal(v) for v in values),
            )
        else:
            return None  # mapping_integrity and tests the proof does not know: validate's
        found = [str(r[0]) for r in self.conn.execute(query).fetchall()]
        outcome.failures = len(found)
        outcome.sample = sorted(found)[:SAMPLE_KEYS]
        return outcome

    def _parent_tripped(self, relation: str) -> bool:
        """Whether the tripwire saw another role write to the parent's app table: a parent
        deleted by hand leaves children no delta touches, so the relationship is proven in
        full."""
        found = _RELATION.match(relation.strip())
        return bool(found and found.group(1) == "public" and found.group(2) in self.tripped_tables)

    def _polymorphic(
        self,
        entity: Entity,
        check: ProofCheck,
        args: dict[str, object],
        rows: sql.Composable,
    ) -> tuple[sql.Composed, bool]:
        targets = args.get("targets") or {}
        assert isinstance(targets, dict)
        type_column = sql.SQL(str(args.get("type_column")))
        col = sql.SQL(str(check.column))
        rows_all = any(
            isinstance(t, dict) and self._parent_tripped(str(t.get("to"))) for t in targets.values()
        )
        if rows_all:
            rows = self._rows(entity, None)
        parts = [
            sql.SQL(
                "select ({type})::text || ' ' || ({col})::text from ({rows}) as touched "
                "where ({col}) is not null and (({type}) is null or ({type})::text not in ({vals}))"
            ).format(
                type=type_column,
                col=col,
                rows=rows,
                vals=sql.SQL(", ").join(sql.Literal(str(v)) for v in targets),
            )
        ]
        for type_value, target in targets.items():
            if not isinstance(target, dict):
                continue
            where = target.get("where")
            parts.append(
                sql.SQL(
                    "select ({type})::text || ' ' || ({col})::text from ({rows}) as touched "
                    "where ({type})::text = {value} and ({col}) is not null and not exists "
                    "(select 1 from {parent} as parent where parent.{field} = touched.{col}{where})"
                ).format(
                    type=type_column,
                    col=col,
                    rows=rows,
                    value=sql.Literal(str(type_value)),
                    parent=_relation(str(target.get("to"))),
                    field=sql.SQL(str(target.get("field"))),
                    where=sql.SQL(f" and ({where})" if where else ""),
                )
            )
        return sql.SQL(" union all ").join(parts), rows_all

    def _parity(
        self,
        entity: Entity,
        check: ProofCheck,
        args: dict[str, object],
        since: int,
        position: int,
        proof: EntityProof,
        outcome: CheckOutcome,
    ) -> CheckOutcome:
        scope_relation = str(args["scope_relation"])
        scope_key, legacy_key = str(args["scope_key"]), str(args["legacy_key"])
        issue_key = str(args.get("issue_key") or scope_key)
        parts = ledger.ParitySql(
            scope_relation=_relation(scope_relation),
            scope_key=sql.SQL(scope_key),
            issue_key=sql.SQL(issue_key),
            scope_where=sql.SQL(str(args.get("scope_where") or "true")),
            model=sql.Identifier("public", entity.name),
            legacy_key=sql.SQL(legacy_key),
            check_missing=bool(args.get("check_missing", True)),
            check_extra=bool(args.get("check_extra", False)),
        )
        shift = (
            BUCKET_SHIFT
            if _PLAIN.match(scope_key)
            and _PLAIN.match(legacy_key)
            and self._integer_column(scope_relation, scope_key)
            else None
        )
        buckets: list[int] | None = None
        outcome.how = "buckets"
        if proof.scope != "full":
            changed = (
                self._changed_buckets(entity, parts, scope_relation, shift, since)
                if proof.scope == "delta"
                else []
            )
            if changed is not None:
                sliced = ledger.slice_buckets(
                    self.conn, entity.name, check.name, self.rotation, position
                )
                buckets = sorted(set(changed) | set(sliced))
                proof.touched_buckets += len(changed)
                proof.slice_buckets += len(set(sliced) - set(changed))
            else:
                outcome.how = "all buckets"
        found = ledger.prove_parity(
            self.conn,
            run_id=self.run_id,
            entity=entity.name,
            check=check.name,
            parts=parts,
            shift=shift,
            buckets=buckets,
        )
        outcome.buckets = found.proven
        outcome.ledger_buckets = found.buckets
        outcome.failures = found.failures
        outcome.sample = found.sample
        proof.ledger_buckets += found.buckets
        return outcome

    def _changed_buckets(
        self,
        entity: Entity,
        parts: ledger.ParitySql,
        scope_relation: str,
        shift: int | None,
        since: int,
    ) -> list[int] | None:
        """The buckets the change touched: of the scope's keys synced after `since` (an index
        scan on the mirror's sync run) and of the touched target rows' keys. None when the scope
        has no sync run column or the touched rows cannot be told: every bucket."""
        synced = self._synced_run_column(scope_relation)
        touched = self._touched(entity)
        if synced is None or touched is None:
            return None
        query = sql.SQL(
            "select {sb} from {scope} as model where ({key}) is not null and {synced} > %s "
            "union select {tb} from ({touched}) as model where ({legacy}) is not null"
        ).format(
            sb=ledger.bucket_of(parts.scope_key, shift),
            scope=parts.scope_relation,
            key=parts.scope_key,
            synced=sql.Identifier(synced),
            tb=ledger.bucket_of(parts.legacy_key, shift),
            touched=touched,
            legacy=parts.legacy_key,
        )
        return [int(r[0]) for r in self.conn.execute(query, (since,))]

    # --- the catalog ----------------------------------------------------------------------

    def _columns(self, relation: str) -> dict[str, str]:
        found = _RELATION.match(relation.strip())
        if not found:
            return {}
        rows = self.conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute as a "
            "where a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) "
            "and a.attnum > 0 and not a.attisdropped",
            found.groups(),
        ).fetchall()
        return {str(n): str(t) for n, t in rows}

    def _integer_column(self, relation: str, column: str) -> bool:
        return self._columns(relation).get(column) in ("integer", "bigint", "smallint")

    def _synced_run_column(self, relation: str) -> str | None:
        columns = self._columns(relation)
        return next((c for c in ("synced_run", "_synced_run") if c in columns), None)

    def _catalog_unique(self, table: str, columns: list[str], *, not_null: bool = False) -> bool:
        """A valid unique index without a predicate on exactly these columns (each NOT NULL
        when asked: a unique index lets nulls repeat)."""
        row = self.conn.execute(
            "select exists (select 1 from pg_index as i where i.indrelid = "
            "to_regclass(format('public.%%I', %s::text)) and i.indisunique and i.indisvalid "
            "and i.indpred is null and i.indnkeyatts = cardinality(%s::text []) and "
            "(select count(*) from pg_attribute as a where a.attrelid = i.indrelid and "
            "a.attnum = any((i.indkey::int2 [])[0:i.indnkeyatts - 1]) and a.attname = any(%s) "
            "and (a.attnotnull or not %s)) = cardinality(%s::text []))",
            (table, columns, columns, not_null, columns),
        ).fetchone()
        return bool(row and row[0])

    def _catalog_not_null(self, table: str, column: str) -> bool:
        row = self.conn.execute(
            "select exists (select 1 from pg_attribute where attrelid = "
            "to_regclass(format('public.%%I', %s::text)) and attname = %s and attnotnull "
            "and not attisdropped)",
            (table, column),
        ).fetchone()
        return bool(row and row[0])

    def _catalog_foreign_key(self, table: str, column: str, parent: str, field_: str) -> bool:
        """A foreign key from table(column) to parent(field): present, validated, and none of
        its triggers disabled (PostgreSQL then checks every row written since)."""
        found = _RELATION.match(parent.strip())
        if not found:
            return False
        row = self.conn.execute(
            "select exists (select 1 from pg_constraint as c "
            "join pg_attribute as child on child.attrelid = c.conrelid "
            "and child.attnum = c.conkey[1] "
            "join pg_attribute as parent on parent.attrelid = c.confrelid "
            "and parent.attnum = c.confkey[1] "
            "where c.contype = 'f' and c.convalidated and cardinality(c.conkey) = 1 "
            "and c.conrelid = to_regclass(format('public.%%I', %s::text)) "
            "and c.confrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) "
            "and child.attname = %s and parent.attname = %s "
            "and not exists (select 1 from pg_trigger as t where t.tgconstraint = c.oid "
            "and t.tgenabled = 'D'))",
            (table, found.group(1), found.group(2), column, field_),
        ).fetchone()
        return bool(row and row[0])


def prove_target(
    conn: psycopg.Connection,
    run_id: int,
    entities: Sequence[Entity],
    rotation: int,
    *,
    full: bool,
) -> list[EntityProof]:
    """`diffmig validate`'s proofs: every bucket and every row of each entity (`full`), or what
    changed since its last proof: the tripwire's writes by others, the keys synced since, and
    the rotating slice. Recorded as proofs of `run_id` (the run they validate)."""
    prover = Prover(conn, run_id, rotation)
    if not full:
        prover.tripwires(entities)
    last = ledger.last_proof_runs(conn)
    return [
        prover.prove(
            entity,
            full="validate --full" if full else None,
            since=last.get(entity.name, 0),
            changed=bool(last.get(entity.name)),
        )
        for entity in entities
    ]
