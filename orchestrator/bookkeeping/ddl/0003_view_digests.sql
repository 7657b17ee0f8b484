-- The views dbt built, and a digest of what each was built from (its compiled SQL, its docs,
-- its grants, dbt's version): dbt's view materialization (macros/materializations/view.sql)
-- leaves a view as it is when it still exists as the same object (view_oid: a view dropped, by
-- a cascade say, and made again is another object), unaltered since (definition_md5, of
-- pg_get_viewdef: a column renamed or a query replaced by hand changes it), with the same digest. Without this, every
-- run replaced each of the project's 67 views (a rename, a drop and the comments of every
-- column), unchanged from one run to the next.
create table diffmig.view_digests (
    relation text primary key,
    view_oid oid not null,
    definition_md5 text not null,
    digest text not null,
    built_at timestamptz not null default now()
);
comment on table diffmig.view_digests is
    'The views dbt built and a digest of their definition; an unchanged view is not rebuilt.';
