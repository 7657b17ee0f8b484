-- diffmig's private schemas in the destination, version 1.
--   diffmig          the tool's own bookkeeping (runs, steps, checkpoints, analyses, issues, ...)
--   diffmig_staging  the mirror of the legacy tables (one table per legacy table, made by the
--                    sync engine from the source's catalog)
-- Neither is exposed by the Supabase API, and the API roles get no privilege on them: staged rows
-- hold password hashes and patients' birth dates.

create schema if not exists diffmig;
create schema if not exists diffmig_staging;

revoke all on schema diffmig, diffmig_staging from public;
do $revoke_api_roles$
declare
    api_role text;
begin
    foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
        if exists (select from pg_roles where rolname = api_role) then
            execute format('revoke all on schema diffmig, diffmig_staging from %I', api_role);
            execute format(
                'revoke all on all tables in schema diffmig, diffmig_staging from %I', api_role
            );
        end if;
    end loop;
end
$revoke_api_roles$;

-- One row: this installation's identity. The namespace seeds the UUID v5 of new target rows.
create table diffmig.installation (
    singleton boolean primary key default true check (singleton),
    namespace uuid not null,
    created_at timestamptz not null default now()
);
comment on table diffmig.installation is
    'This installation of diffmig; namespace is the UUID v5 namespace of the UUIDs it issues.';

-- Every invocation that changes something (sync, run) or analyses (detect).
create table diffmig.runs (
    run_id bigint generated always as identity primary key,
    command text not null,
    mode text,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed', 'paused', 'interrupted')),
    transport text,
    source_desc text,
    target_desc text,
    invoked_by text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    error text,
    resumed_from bigint references diffmig.runs (run_id),
    pause_requested_at timestamptz
);
comment on table diffmig.runs is 'One row per diffmig invocation that syncs, runs or analyses.';

-- The steps of a `diffmig run`: per entity, its phase and outcome (what `diffmig status` shows
-- and what `run --resume` skips).
create table diffmig.run_steps (
    run_id bigint not null references diffmig.runs (run_id),
    entity text not null,
    position integer not null,
    phase text not null default 'pending'
        check (phase in ('pending', 'sync', 'build', 'validate', 'done', 'failed', 'skipped')),
    started_at timestamptz,
    finished_at timestamptz,
    rows_synced bigint not null default 0,
    rows_new bigint not null default 0,
    rows_modified bigint not null default 0,
    rows_deleted bigint not null default 0,
    rows_applied bigint not null default 0,
    rows_held_back bigint not null default 0,
    target_rows_before bigint,
    target_rows_after bigint,
    sync_seconds numeric(12, 3),
    build_seconds numeric(12, 3),
    tests_run integer not null default 0,
    tests_failed integer not null default 0,
    detail text,
    primary key (run_id, entity)
);

-- The dbt results of each entity's build in a run (models, seeds, tests).
create table diffmig.build_results (
    run_id bigint not null references diffmig.runs (run_id),
    entity text not null,
    node text not null,
    resource_type text not null,
    status text not null,
    rows_affected bigint,
    failures bigint,
    seconds numeric(12, 3),
    message text,
    primary key (run_id, entity, node)
);

-- The sync of one legacy table within a run.
create table diffmig.table_syncs (
    run_id bigint not null references diffmig.runs (run_id),
    table_name text not null,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed')),
    transport text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    source_rows bigint,
    rows_new bigint not null default 0,
    rows_modified bigint not null default 0,
    rows_deleted bigint not null default 0,
    rows_transferred bigint not null default 0,
    ranges_total integer,
    ranges_done integer not null default 0,
    error text,
    primary key (run_id, table_name)
);
comment on table diffmig.table_syncs is 'Per run and legacy table: counts, progress, outcome.';

-- Checkpoints: a key range of a table applied to the mirror by a run (exactly once: the range's
-- rows and its checkpoint row commit in the same transaction).
create table diffmig.checkpoints (
    run_id bigint not null references diffmig.runs (run_id),
    table_name text not null,
    range_lo bigint not null,
    range_hi bigint not null,
    rows_new bigint not null default 0,
    rows_modified bigint not null default 0,
    rows_deleted bigint not null default 0,
    done_at timestamptz not null default now(),
    primary key (run_id, table_name, range_lo)
);
comment on table diffmig.checkpoints is
    'Key ranges [range_lo, range_hi] of a table already applied to the mirror by a run.';

-- The mirror's state per legacy table: the column list its fingerprints use, the last sync.
create table diffmig.mirror_tables (
    table_name text primary key,
    key_column text not null,
    fingerprint_columns text[] not null,
    last_synced_run bigint references diffmig.runs (run_id),
    last_synced_at timestamptz,
    created_at timestamptz not null default now()
);
comment on table diffmig.mirror_tables is
    'The mirrored legacy tables: fingerprinted columns (in order) and the last complete sync.';

-- Differential analyses (`diffmig detect`, and the detection step of every sync).
create table diffmig.analyses (
    analysis_id bigint generated always as identity primary key,
    run_id bigint references diffmig.runs (run_id),
    created_at timestamptz not null default now(),
    basis text not null
);
comment on table diffmig.analyses is
    'A differential analysis: basis is mirror (fingerprints) or first_sync (earlier migration).';

create table diffmig.analysis_tables (
    analysis_id bigint not null references diffmig.analyses (analysis_id) on delete cascade,
    table_name text not null,
    source_rows bigint not null,
    rows_new bigint not null,
    rows_modified bigint not null,
    rows_deleted bigint not null,
    seconds numeric(12, 3),
    primary key (analysis_id, table_name)
);

create table diffmig.analysis_keys (
    analysis_id bigint not null references diffmig.analyses (analysis_id) on delete cascade,
    table_name text not null,
    legacy_id bigint not null,
    change text not null check (change in ('new', 'modified', 'deleted')),
    primary key (analysis_id, table_name, legacy_id)
);
comment on table diffmig.analysis_keys is 'The keys behind each analysis count.';

-- Rows that could not be applied, with the reason; retried by later runs.
create table diffmig.row_issues (
    issue_id bigint generated always as identity primary key,
    run_id bigint,
    entity text not null,
    table_name text,
    legacy_key text not null,
    severity text not null check (severity in ('error', 'warning')),
    reason text not null,
    detail text,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    resolved_at timestamptz
);
comment on table diffmig.row_issues is
    'Rows held back (error) or applied with a caveat (warning), per entity and legacy key; '
    'open until a later run no longer sees the reason.';
create index row_issues_open_idx on diffmig.row_issues (entity, legacy_key) where resolved_at is null;

-- Every target row diffmig has applied, per entity and legacy key (a junction's key joins its
-- parts with ':'), with the first and last run that wrote it. A target row not listed here was
-- written by the earlier scripts: its differences from the mapping are drift, reported and applied
-- only on request.
create table diffmig.entity_rows (
    entity text not null,
    legacy_key text not null,
    target_id uuid not null,
    first_run bigint,
    last_run bigint,
    source_deleted_at timestamptz,
    primary key (entity, legacy_key)
);

-- Per entity: the last run whose mirror changes were applied (the delta watermark).
create table diffmig.entity_watermarks (
    entity text primary key,
    applied_run bigint not null,
    applied_at timestamptz not null default now()
);

-- Connection losses and other retried failures.
create table diffmig.retries (
    retry_id bigint generated always as identity primary key,
    run_id bigint references diffmig.runs (run_id),
    step text not null,
    attempt integer not null,
    cause text not null,
    sleep_seconds numeric(8, 2),
    at timestamptz not null default now()
);

-- Catalog snapshots for `diffmig schema diff`.
create table diffmig.schema_snapshots (
    snapshot_id bigint generated always as identity primary key,
    side text not null check (side in ('source', 'target')),
    taken_at timestamptz not null default now(),
    catalog jsonb not null
);

-- Per mirrored table and bucket of keys: live rows, bit_xor of hash(key, source xmin), and all
-- rows (deleted ones included). Kept in step with the mirror by every range a sync applies, so a
-- sync compares the source's checksums with these instead of re-reading the whole mirror.
create table diffmig.mirror_buckets (
    table_name text not null,
    bucket bigint not null,
    live_rows bigint not null,
    version_xor bigint,
    all_rows bigint not null,
    primary key (table_name, bucket)
);
alter table diffmig.mirror_tables add column buckets_valid boolean not null default false;
