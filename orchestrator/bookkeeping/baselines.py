"""The last baseline a report took (ddl/0010_baselines.sql), and whether a run's report may
reuse it.

A baseline scans every legacy table and app table (orchestrator/baseline.py): at scale 1.0 it
took longer than the whole of a run that had nothing to do. A run's report reuses the stored one
only when nothing it counts can have changed since: it was taken right after the run before,
over the same entity declarations, and this run succeeded, synced every table the baseline reads
and found no change in any, wrote no row, proved every entity by its rotating slice alone (no
tripwire: no other role wrote an app table), and migration_mappings' write counters are those of
when it was taken."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb

from orchestrator.bookkeeping.schema import SCHEMA

# migration_mappings' writes so far (pg_stat_user_tables; NULL when the table is missing).
_MAPPING_WRITES = (
    "(select s.n_tup_ins + s.n_tup_upd + s.n_tup_del from pg_catalog.pg_stat_user_tables as s "
    "where s.schemaname = 'public' and s.relname = 'migration_mappings')"
)


class StoredBaseline(NamedTuple):
    after_run: int
    taken_at: datetime
    document: dict[str, Any]


def specs_digest(specs: Sequence[object]) -> str:
    """The entity declarations a baseline counted by, as stored beside it."""
    return json.dumps([repr(s) for s in specs])


def store_baseline(
    conn: psycopg.Connection, after_run: int | None, specs: str, document: dict[str, Any]
) -> None:
    conn.execute(
        f"insert into {SCHEMA}.baselines (after_run, specs, mapping_writes, document) "
        f"values (%s, %s, {_MAPPING_WRITES}, %s) on conflict (only_row) do update set "
        "after_run = excluded.after_run, specs = excluded.specs, "
        "mapping_writes = excluded.mapping_writes, taken_at = now(), "
        "document = excluded.document",
        (after_run or 0, specs, Jsonb(document)),
    )


# Why a run's report must count again, in the order checked (each a condition that holds when
# the stored baseline may be reused).
_REUSE_CONDITIONS = (
    ("the entity declarations changed", "b.specs = %(specs)s"),
    ("the run did not succeed", "r.status = 'succeeded'"),
    (
        "another run came between",
        f"b.after_run = (select max(p.run_id) from {SCHEMA}.runs as p where p.run_id < r.run_id)",
    ),
    ("migration_mappings was written", f"b.mapping_writes = {_MAPPING_WRITES}"),
    (
        "the sync found changes",
        f"not exists (select 1 from {SCHEMA}.table_syncs as t where t.run_id = r.run_id "
        "and (t.status <> 'succeeded' or t.rows_new + t.rows_modified + t.rows_deleted > 0))",
    ),
    (
        "the run did not sync every table the baseline counts",
        "not exists (select 1 from unnest(%(tables)s::text []) as needed (table_name) "
        f"where not exists (select 1 from {SCHEMA}.table_syncs as t "
        "where t.run_id = r.run_id and t.table_name = needed.table_name))",
    ),
    (
        "the run wrote rows",
        f"not exists (select 1 from {SCHEMA}.run_steps as s where s.run_id = r.run_id "
        "and (s.rows_applied > 0 or s.rows_deleted > 0 or s.phase <> 'done'))",
    ),
    (
        "an entity was proven beyond its rotating slice (changes, or writes by others)",
        f"exists (select 1 from {SCHEMA}.proof_results as p where p.run_id = r.run_id) "
        f"and not exists (select 1 from {SCHEMA}.proof_results as p "
        "where p.run_id = r.run_id and p.scope <> 'slice')",
    ),
)


def reusable_baseline(
    conn: psycopg.Connection, run_id: int, specs: str, tables: Sequence[str]
) -> tuple[StoredBaseline | None, str]:
    """The stored baseline, if run `run_id` (just ended) changed nothing it counts; else None and
    why. One statement over the run's bookkeeping: any doubt means a new baseline."""
    checks = ", ".join(f"({condition})" for _, condition in _REUSE_CONDITIONS)
    row = conn.execute(
        f"select b.after_run, b.taken_at, b.document, {checks} "
        f"from {SCHEMA}.baselines as b inner join {SCHEMA}.runs as r on r.run_id = %(run)s",
        {"run": run_id, "specs": specs, "tables": list(tables)},
    ).fetchone()
    if row is None:
        return None, "no baseline was taken before"
    for (why, _), holds in zip(_REUSE_CONDITIONS, row[3:], strict=True):
        if not holds:
            return None, why
    # It holds after this run too: the next run that changes nothing reuses it again.
    conn.execute(f"update {SCHEMA}.baselines set after_run = %s", (run_id,))
    return StoredBaseline(int(row[0]), row[1], dict(row[2])), ""
