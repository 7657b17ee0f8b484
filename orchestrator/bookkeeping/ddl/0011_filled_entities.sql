-- The entities whose app table held no row when diffmig first wrote it (app_upsert.sql): every
-- target row of such an entity with a legacy key is diffmig's, none is the earlier scripts', so
-- the rows diffmig applies to it need no per-key record in diffmig.entity_rows (which exists to
-- tell diffmig's rows from the earlier scripts'). Junctions, whose target rows are found by their
-- pair and may be the app's own, are never listed.
create table diffmig.filled_entities (
    entity text primary key,
    run_id bigint not null,
    filled_at timestamptz not null default now()
);
comment on table diffmig.filled_entities is
    'Entities whose app table diffmig filled from empty: all their keyed target rows are diffmig''s.';
