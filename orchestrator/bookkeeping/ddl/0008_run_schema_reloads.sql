-- The schema-cache reloads a run caused on the destination's HTTP API (PostgREST): the
-- `NOTIFY pgrst, 'reload schema'` a listening connection received while the run worked
-- (orchestrator/schema_reloads.py). NULL when not measured.
alter table diffmig.runs add column schema_reloads integer;
comment on column diffmig.runs.schema_reloads is
    'Schema-cache reloads (NOTIFY pgrst) received during the run, from any session; NULL when '
    'not measured.';
