{#- Helpers of the view and seed materializations (view.sql, seed.sql): whether a relation is
    unchanged since this project last built it, and the record that makes it so.
    diffmig.build_digests (orchestrator/bookkeeping/ddl/0003_build_digests.sql) holds, per
    relation: its oid when built, the md5 of its catalog content then (`content_md5`, an SQL
    expression of the caller: a view's pg_get_viewdef, a seed's rows) and the digest of what it
    was built from. -#}

{#- Whether diffmig's bookkeeping is there (a project used by hand before `diffmig run` ever
    ran has none: everything is built as dbt would). -#}
{% macro build_digests_exist() %}
    {{ return(adapter.get_relation(
        database=target.database, schema='diffmig', identifier='build_digests') is not none) }}
{% endmacro %}

{#- True when the relation is the object last built, its content as built and its digest the
    same. It is the node's main statement (what dbt reports for a node left alone). -#}
{% macro unchanged_since_built(relation, digest, content_md5) %}
    {%- set name = relation.include(database=false) | string -%}
    {%- call statement('main', fetch_result=True) -%}
        select count(*) as unchanged
        from diffmig.build_digests as recorded
        where
            recorded.relation = '{{ name }}'
            and recorded.relation_oid = to_regclass('{{ name }}')::oid
            and recorded.digest = '{{ digest }}'
            and recorded.content_md5 = {{ content_md5 }}
    {%- endcall -%}
    {{ return(load_result('main')['data'][0][0] | int == 1) }}
{% endmacro %}

{#- Records what was just built, inside the build's transaction. -#}
{% macro record_build_digest(relation, digest, content_md5) %}
    {%- set name = relation.include(database=false) | string -%}
    {%- call statement('record_build_digest') -%}
        insert into diffmig.build_digests (relation, relation_oid, content_md5, digest)
        values ('{{ name }}', to_regclass('{{ name }}')::oid, {{ content_md5 }}, '{{ digest }}')
        on conflict (relation) do update
        set
            relation_oid = excluded.relation_oid,
            content_md5 = excluded.content_md5,
            digest = excluded.digest,
            built_at = now()
    {%- endcall -%}
{% endmacro %}
