{#- dbt's table materialization, for PostgreSQL, made to refill a table it built instead of
    building it again (refill.sql says why: the live app's schema cache).

    The int_<entity>_mapped tables are built at every build of their entity. Here such a table
    is emptied and filled again, with no DDL, when all of these hold:
    - diffmig's bookkeeping exists (diffmig.build_digests, see build_digests.sql);
    - the table is the object this materialization last built (its oid) and the digest of its
      docs and config (descriptions persisted as comments, unlogged, grants, indexes, hooks) and
      dbt's version is the one recorded then (the compiled SQL is not in it: a changed query
      with the same columns refills the table with its new rows);
    - its query returns the columns the table has (refill.sql);
    - the build is not a --full-refresh.
    Anything else builds it as dbt's own materialization does (the code below it is dbt 1.11's
    default table materialization, the old table dropped before the commit), then records its
    digest. -#}
{%- materialization table, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') %}
  {%- set digest = local_md5(
      dbt_version ~ '|' ~ model.description ~ '|' ~ tojson(model.columns)
      ~ '|' ~ tojson(model.config)
  ) -%}
  {%- set digests = build_digests_exist() -%}

  {%- if digests and existing_relation is not none and existing_relation.is_table
        and not should_full_refresh()
        and unchanged_since_built(target_relation, digest, "''")
        and has_shape_of(target_relation, sql) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% do refill_table(target_relation, sql) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
  {%- endif -%}

  {%- set intermediate_relation =  make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
  {%- endcall %}

  {% do create_indexes(intermediate_relation) %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}

  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {% if digests %}
    {% do record_build_digest(target_relation, digest, "''") %}
  {% endif %}

  {#- dbt drops the old table after the commit, in a transaction of its own: a second reload.
      The rename already holds its lock until the commit, so dropping it before costs nothing. -#}
  {{ drop_relation_if_exists(backup_relation) }}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}
