-- Why a public.migration_mappings row is junk, or NULL: the row-local rules, declared once. The
-- dbt project calls it (macro mapping_junk_reason: the staging view of the mappings and the
-- mapping_integrity test), and so does the orchestrator (`diffmig mappings check`, `baseline`).
-- A placeholder UUID has 32 equal hex digits (compared with repeat(): a regex with a
-- back-reference cost 5 us per row, 13 s over the 2.5 M mappings of scale 1.0).
--
-- A single-expression SQL function, immutable, neither strict nor security definer: the planner
-- inlines it into the calling query (EXPLAIN VERBOSE shows the CASE, not a function call), so it
-- costs what the CASE written out costs (checked over 500,000 rows on PostgreSQL 15: the same
-- plan and estimated cost as the CASE, and the same run time within noise). legacy_id is integer,
-- as in public.migration_mappings (a bigint parameter would add a cast per reference).
create or replace function diffmig.mapping_junk_reason(legacy_id integer, new_id uuid)
returns text
language sql immutable parallel safe
as $$
    select case
        when legacy_id is null or legacy_id <= 0 then 'legacy_id missing or not positive'
        when new_id is null then 'new_id missing'
        when replace(new_id::text, '-', '') = repeat(left(new_id::text, 1), 32)
            then 'placeholder uuid'
    end
$$;
comment on function diffmig.mapping_junk_reason(integer, uuid) is
    'Why a migration_mappings row is junk (legacy_id missing or not positive, new_id missing, '
    'placeholder uuid), or NULL. Inlined by the planner.';
