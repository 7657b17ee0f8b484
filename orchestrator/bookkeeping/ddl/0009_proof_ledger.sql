-- The run's proofs (orchestrator/proofs.py, ADR 0011). A delta run proves what its change
-- touched, a rotating slice of the rest, and in full what someone else wrote to.

-- The parity ledger: per entity, parity check and bucket of legacy keys, the keys in scope
-- (from the mirror) and the target rows (from the app table) when the bucket was last proven,
-- as a count and a sum of hashes, and the keys that failed (missing in the target, or a
-- target row not in scope for a check of extras). A table's parity is the sum over buckets.
create table diffmig.proof_buckets (
    entity text not null,
    check_name text not null,
    bucket bigint not null,
    scope_rows bigint not null,
    scope_hash bigint not null,
    target_rows bigint not null,
    target_hash bigint not null,
    failures bigint not null,
    sample text [] not null default '{}',
    proven_run bigint not null,
    proven_at timestamptz not null default now(),
    primary key (entity, check_name, bucket)
);
comment on table diffmig.proof_buckets is
    'Parity ledger: per entity, check and bucket of legacy keys, what its last proof found.';

-- Per entity: how many runs proved it (the rotating slice's position), its last full proof,
-- and the tripwire: the app table's write counters (pg_stat_user_tables n_tup_ins + n_tup_upd
-- + n_tup_del) when the last run started, and the rows diffmig itself wrote since.
create table diffmig.proof_state (
    entity text primary key,
    app_table text not null,
    proofs bigint not null default 0,
    last_full_run bigint,
    last_full_at timestamptz,
    last_proof_run bigint,
    stat_writes bigint,
    own_writes bigint not null default 0
);
comment on table diffmig.proof_state is
    'Per entity: the proof rotation, the last full proof and the tripwire''s write counters.';

-- What each run proved, per entity: how (full, delta, slice only), the buckets it proved and
-- why, and what it found.
create table diffmig.proof_results (
    run_id bigint not null,
    entity text not null,
    scope text not null,
    reason text not null,
    touched_buckets bigint not null default 0,
    slice_buckets bigint not null default 0,
    ledger_buckets bigint not null default 0,
    checks jsonb not null default '[]',
    failures bigint not null default 0,
    seconds numeric(12, 3),
    primary key (run_id, entity)
);
comment on table diffmig.proof_results is
    'What each run proved per entity: full, delta or slice, the buckets, the checks.';
