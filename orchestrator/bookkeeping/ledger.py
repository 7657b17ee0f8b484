"""The proofs' bookkeeping (ddl/0009_proof_ledger.sql, ADR 0011): the parity ledger (per entity,
check and bucket of legacy keys, what its last proof found), each entity's proof state (the
rotating slice's position, its last full proof, the tripwire's write counters) and what each run
proved. orchestrator/proofs.py decides what to prove; the statements that read and write the
ledger are here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from orchestrator.bookkeeping.schema import SCHEMA

# Failing keys kept per bucket, and listed per check.
SAMPLE_KEYS = 5
LISTED_KEYS = 20


@dataclass(frozen=True)
class ParitySql:
    """A parity check's SQL pieces (the declared test's arguments, relations resolved)."""

    scope_relation: sql.Composable
    scope_key: sql.Composable
    issue_key: sql.Composable
    scope_where: sql.Composable
    model: sql.Composable
    legacy_key: sql.Composable
    check_missing: bool
    check_extra: bool


@dataclass(frozen=True)
class ParityOutcome:
    """A parity check after this run: buckets proven now, and over the whole ledger the buckets,
    the keys in scope and in the target, the failing keys and a sample of them."""

    proven: int
    buckets: int
    scope_rows: int
    target_rows: int
    failures: int
    sample: list[str]


@dataclass(frozen=True)
class Tripwire:
    """An entity's app table at a run's start: why its proof must be full (None: no reason)."""

    entity: str
    reason: str | None


def bucket_of(key: sql.Composable, shift: int | None) -> sql.Composable:
    """A key's bucket: a range of 2**shift integer keys (index range scans), or for other keys
    one of 1024 hash buckets."""
    if shift is None:
        return sql.SQL("(hashtext(({})::text) & 1023)::bigint").format(key)
    return sql.SQL("((({})::bigint) >> {})").format(key, sql.Literal(shift))


def key_ranges(buckets: Sequence[int], shift: int) -> list[tuple[int, int]]:
    """Integer buckets as key ranges [low, high), adjacent buckets merged."""
    ranges: list[tuple[int, int]] = []
    for bucket in sorted(set(buckets)):
        low, high = bucket << shift, (bucket + 1) << shift
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return ranges


def _side(
    relation: sql.Composable,
    key: sql.Composable,
    where: sql.Composable,
    extra: sql.Composable,
    shift: int | None,
    buckets: Sequence[int] | None,
) -> sql.Composable:
    """One side's keys with their bucket, limited to `buckets` when given: for integer keys one
    key range per run of adjacent buckets, OR-ed (a bitmap of index range scans whatever the
    planner thinks of the bucket list), for other keys a filter on the hash bucket."""
    bucket = bucket_of(key, shift)
    if buckets is None:
        restriction: sql.Composable = sql.SQL("")
    elif shift is not None:
        ranges = [
            sql.SQL("(({key}) >= {low} and ({key}) < {high})").format(
                key=key, low=sql.Literal(low), high=sql.Literal(high)
            )
            for low, high in key_ranges(buckets, shift)
        ]
        restriction = sql.SQL(" and ({})").format(
            sql.SQL(" or ").join(ranges) if ranges else sql.SQL("false")
        )
    else:
        restriction = sql.SQL(" and {} = any(%(buckets)s::bigint [])").format(bucket)
    return sql.SQL(
        "select {bucket} as bucket, ({key}) as k{extra} from {rel} as model "
        "where ({key}) is not null and ({where}){restriction}"
    ).format(
        bucket=bucket, key=key, extra=extra, rel=relation, where=where, restriction=restriction
    )


def prove_parity(
    conn: psycopg.Connection,
    *,
    run_id: int,
    entity: str,
    check: str,
    parts: ParitySql,
    shift: int | None,
    buckets: Sequence[int] | None,
) -> ParityOutcome:
    """Prove `buckets` of one parity check (None: every bucket, and the ledger is replaced):
    count and hash both sides per bucket, find the failing keys (in scope, not in the target
    and not held back by an open error; or, for a check of extras, a target row not in scope),
    write the ledger. One statement; then the ledger's totals for the check."""
    restricted = buckets is not None
    scope = _side(
        parts.scope_relation,
        parts.scope_key,
        parts.scope_where,
        sql.SQL(", ({})::text as ik").format(parts.issue_key),
        shift,
        buckets,
    )
    target = _side(parts.model, parts.legacy_key, sql.SQL("true"), sql.SQL(""), shift, buckets)
    failing = []
    if parts.check_missing:
        failing.append(
            "select s.bucket, s.k::text as k from scope as s "
            "where not exists (select 1 from target as t where t.k = s.k) "
            "and not exists (select 1 from held as h where h.legacy_key = s.ik)"
        )
    if parts.check_extra:
        failing.append(
            "select t.bucket, t.k::text as k from target as t "
            "where not exists (select 1 from scope as s where s.k = t.k)"
        )
    statement = sql.SQL(
        "with proof_buckets as (select unnest(%(buckets)s::bigint []) as proof_bucket), "
        "scope as materialized ({scope}), target as materialized ({target}), "
        "held as (select legacy_key from {schema}.row_issues where entity = %(entity)s "
        "and resolved_at is null and severity = 'error'), "
        "failing as ({failing}), "
        "failing_per_bucket as (select bucket, count(*) as n, "
        "(array_agg(k order by k))[1:{sample}] as sample from failing group by bucket), "
        "sides as (select bucket, count(*) as scope_rows, sum(hashtext(k::text)) as scope_hash, "
        "0 as target_rows, 0 as target_hash from scope group by bucket "
        "union all select bucket, 0, 0, count(*), sum(hashtext(k::text)) from target "
        "group by bucket "
        "union all select proof_bucket, 0, 0, 0, 0 from proof_buckets), "
        "per_bucket as (select bucket, sum(scope_rows) as scope_rows, "
        "coalesce(sum(scope_hash), 0) as scope_hash, sum(target_rows) as target_rows, "
        "coalesce(sum(target_hash), 0) as target_hash from sides group by bucket) "
        "insert into {schema}.proof_buckets (entity, check_name, bucket, scope_rows, scope_hash, "
        "target_rows, target_hash, failures, sample, proven_run, proven_at) "
        "select %(entity)s, %(check)s, p.bucket, p.scope_rows, p.scope_hash, p.target_rows, "
        "p.target_hash, coalesce(f.n, 0), coalesce(f.sample, '{{}}'), %(run)s, now() "
        "from per_bucket as p left join failing_per_bucket as f using (bucket) "
        "on conflict (entity, check_name, bucket) do update set "
        "scope_rows = excluded.scope_rows, scope_hash = excluded.scope_hash, "
        "target_rows = excluded.target_rows, target_hash = excluded.target_hash, "
        "failures = excluded.failures, sample = excluded.sample, "
        "proven_run = excluded.proven_run, proven_at = excluded.proven_at"
    ).format(
        scope=scope,
        target=target,
        schema=sql.Identifier(SCHEMA),
        failing=sql.SQL(" union all ".join(failing)),
        sample=sql.Literal(SAMPLE_KEYS),
    )
    params = {
        "buckets": list(buckets or []),
        "entity": entity,
        "check": check,
        "run": run_id,
    }
    with conn.transaction():
        proven = conn.execute(statement, params).rowcount
        # Buckets left with no key on either side, and in a full proof every bucket it did
        # not find, leave the ledger.
        conn.execute(
            sql.SQL(
                "delete from {}.proof_buckets where entity = %(entity)s and check_name = %(check)s "
                "and ((scope_rows = 0 and target_rows = 0) or (%(full)s and proven_run <> %(run)s))"
            ).format(sql.Identifier(SCHEMA)),
            params | {"full": not restricted},
        )
        row = conn.execute(
            sql.SQL(
                "select count(*), coalesce(sum(scope_rows), 0), coalesce(sum(target_rows), 0), "
                "coalesce(sum(failures), 0), (array_agg(k order by k))[1:{}] "
                "from {}.proof_buckets left join lateral unnest(sample) as k on failures > 0 "
                "where entity = %(entity)s and check_name = %(check)s"
            ).format(sql.Literal(LISTED_KEYS), sql.Identifier(SCHEMA)),
            params,
        ).fetchone()
    assert row is not None
    sample = [str(k) for k in (row[4] or []) if k is not None]
    return ParityOutcome(proven, int(row[0]), int(row[1]), int(row[2]), int(row[3]), sample)


def slice_buckets(
    conn: psycopg.Connection, entity: str, check: str, rotation: int, position: int
) -> list[int]:
    """The ledger's buckets of the rotating slice at `position`: bucket mod rotation equal to
    position mod rotation, so every bucket is in one of any `rotation` consecutive slices."""
    return [
        int(r[0])
        for r in conn.execute(
            sql.SQL(
                "select bucket from {}.proof_buckets where entity = %s and check_name = %s "
                "and mod(bucket, %s) = mod(%s, %s)"
            ).format(sql.Identifier(SCHEMA)),
            (entity, check, rotation, position, rotation),
        )
    ]


def check_tripwires(conn: psycopg.Connection, app_tables: dict[str, str]) -> list[Tripwire]:
    """At a run's start, before it writes: each app table's write counters (pg_stat_user_tables)
    against those of the last run's start plus the rows diffmig wrote since. More writes than
    diffmig's (a row changed or deleted by another role), counters reset, or no full proof yet:
    the entity is proven in full. Then the counters are the new baseline."""
    entities = list(app_tables)
    rows = conn.execute(
        sql.SQL(
            "select e.entity, e.app_table, "
            "(select s.n_tup_ins + s.n_tup_upd + s.n_tup_del from pg_stat_user_tables as s "
            "where s.schemaname = 'public' and s.relname = e.app_table), "
            "st.stat_writes, st.own_writes, st.last_full_run "
            "from unnest(%s::text [], %s::text []) as e (entity, app_table) "
            "left join {}.proof_state as st on st.entity = e.entity"
        ).format(sql.Identifier(SCHEMA)),
        (entities, [app_tables[e] for e in entities]),
    ).fetchall()
    found = []
    for entity, app_table, writes, stat_writes, own_writes, last_full in rows:
        found.append(
            Tripwire(str(entity), _trip_reason(writes, stat_writes, own_writes, last_full))
        )
        conn.execute(
            sql.SQL(
                "insert into {}.proof_state (entity, app_table, stat_writes, own_writes) "
                "values (%s, %s, %s, 0) on conflict (entity) do update set "
                "app_table = excluded.app_table, stat_writes = excluded.stat_writes, own_writes = 0"
            ).format(sql.Identifier(SCHEMA)),
            (entity, app_table, writes),
        )
    return found


def _trip_reason(
    writes: int | None, stat_writes: int | None, own_writes: int | None, last_full: int | None
) -> str | None:
    if last_full is None:
        return "no full proof yet"
    if writes is None:
        return "no write counters for its app table"
    if stat_writes is None:
        return "no write counters from the last run"
    if writes < stat_writes:
        return "the write counters were reset"
    others = writes - stat_writes - (own_writes or 0)
    if others > 0:
        return f"{others} row writes by others since the last run (tripwire)"
    return None


def add_own_writes(conn: psycopg.Connection, entity: str, rows: int) -> None:
    """Rows diffmig itself wrote to the entity's app table (the tripwire subtracts them)."""
    conn.execute(
        sql.SQL("update {}.proof_state set own_writes = own_writes + %s where entity = %s").format(
            sql.Identifier(SCHEMA)
        ),
        (rows, entity),
    )


def proof_position(conn: psycopg.Connection, entity: str, app_table: str) -> int:
    """The entity's proofs so far (the rotating slice's position); counts this one."""
    row = conn.execute(
        sql.SQL(
            "insert into {}.proof_state as st (entity, app_table, proofs) values (%s, %s, 1) "
            "on conflict (entity) do update set proofs = st.proofs + 1 returning st.proofs - 1"
        ).format(sql.Identifier(SCHEMA)),
        (entity, app_table),
    ).fetchone()
    return int(row[0]) if row else 0


def record_proof(
    conn: psycopg.Connection,
    *,
    run_id: int,
    entity: str,
    scope: str,
    reason: str,
    touched: int,
    sliced: int,
    ledger: int,
    checks: list[dict[str, object]],
    failures: int,
    seconds: float,
) -> None:
    """What the run proved of the entity; a full proof is the entity's last full proof."""
    conn.execute(
        sql.SQL(
            "insert into {}.proof_results (run_id, entity, scope, reason, touched_buckets, "
            "slice_buckets, ledger_buckets, checks, failures, seconds) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (run_id, entity) do update set "
            "scope = excluded.scope, reason = excluded.reason, "
            "touched_buckets = excluded.touched_buckets, slice_buckets = excluded.slice_buckets, "
            "ledger_buckets = excluded.ledger_buckets, checks = excluded.checks, "
            "failures = excluded.failures, seconds = excluded.seconds"
        ).format(sql.Identifier(SCHEMA)),
        (
            run_id,
            entity,
            scope,
            reason,
            touched,
            sliced,
            ledger,
            json.dumps(checks),
            failures,
            round(seconds, 3),
        ),
    )
    conn.execute(
        sql.SQL(
            "update {}.proof_state set last_proof_run = %s, "
            "last_full_run = case when %s then %s else last_full_run end, "
            "last_full_at = case when %s then now() else last_full_at end where entity = %s"
        ).format(sql.Identifier(SCHEMA)),
        (run_id, scope == "full", run_id, scope == "full", entity),
    )


@dataclass(frozen=True)
class ProofSummary:
    """What one run proved of one entity, with the age of the entity's last full proof."""

    entity: str
    scope: str
    reason: str
    touched_buckets: int
    slice_buckets: int
    ledger_buckets: int
    failures: int
    last_full_run: int | None
    full_age_s: float | None


def run_proofs(conn: psycopg.Connection, run_id: int) -> list[ProofSummary]:
    """What `run_id` proved, per entity (the report's section)."""
    if conn.execute("select to_regclass(%s)", (f"{SCHEMA}.proof_results",)).fetchone() == (None,):
        return []
    rows = conn.execute(
        sql.SQL(
            "select r.entity, r.scope, r.reason, r.touched_buckets, r.slice_buckets, "
            "r.ledger_buckets, r.failures, st.last_full_run, "
            "extract(epoch from now() - st.last_full_at)::float8 "
            "from {schema}.proof_results as r left join {schema}.proof_state as st using (entity) "
            "where r.run_id = %s order by r.entity"
        ).format(schema=sql.Identifier(SCHEMA)),
        (run_id,),
    ).fetchall()
    return [
        ProofSummary(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            int(r[6]),
            None if r[7] is None else int(r[7]),
            None if r[8] is None else float(r[8]),
        )
        for r in rows
    ]


def last_proof_runs(conn: psycopg.Connection) -> dict[str, int]:
    """Per entity, the run of its last proof."""
    if conn.execute("select to_regclass(%s)", (f"{SCHEMA}.proof_state",)).fetchone() == (None,):
        return {}
    return {
        str(r[0]): int(r[1])
        for r in conn.execute(
            sql.SQL(
                "select entity, last_proof_run from {}.proof_state where last_proof_run is not null"
            ).format(sql.Identifier(SCHEMA))
        )
    }
