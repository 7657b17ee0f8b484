-- The last baseline a report took (orchestrator/baseline.py: per entity, legacy rows in scope,
-- target rows, keys missing or orphaned, mappings). A run that changed nothing reuses it in its
-- report instead of scanning every legacy and app table again (bookkeeping/baselines.py says
-- when). One row: only the latest is ever reused.
create table diffmig.baselines (
    only_row boolean primary key default true check (only_row),
    after_run bigint not null,
    specs text not null,
    mapping_writes bigint,
    taken_at timestamptz not null default now(),
    document jsonb not null
);
comment on table diffmig.baselines is
    'The last baseline a report took, after which run, over which entity declarations.';
