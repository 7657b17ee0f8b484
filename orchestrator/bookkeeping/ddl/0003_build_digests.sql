-- The relations dbt built that it may leave alone when nothing about them changed: views
-- (macros/materializations/view.sql) and seeds (seed.sql). Per relation, the object built
-- (relation_oid: one dropped, by a cascade say, and made again is another object), a digest of
-- its catalog content then (content_md5: a view's pg_get_viewdef, a seed's rows; an edit by
-- hand changes it) and a digest of what it was built from (digest: compiled SQL or the seed
-- file, docs, config, dbt's version). A build finding all three unchanged leaves it as it is:
-- a delta run used to replace all 49 views and reload all 13 seeds, unchanged.
create table diffmig.build_digests (
    relation text primary key,
    relation_oid oid not null,
    content_md5 text not null,
    digest text not null,
    built_at timestamptz not null default now()
);
comment on table diffmig.build_digests is
    'Views and seeds dbt built, with digests of their source and content; unchanged ones are '
    'not built again.';
