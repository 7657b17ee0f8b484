{#- dbt's seed materialization, for PostgreSQL, made to leave an unchanged seed alone.

    dbt empties and reloads every seed at every build (truncate, insert, a comment on every
    column, commit): 13 code tables, unchanged from one run to the next, at every delta run.
    Here a seed is left as it is, and its build is one lookup and a read of its few rows, when
    all of these hold:
    - diffmig's bookkeeping exists (diffmig.build_digests, see build_digests.sql);
    - the table is the object this materialization last loaded (its oid) and holds the rows it
      loaded then (the md5 of its rows: a row edited by hand is put back);
    - the digest of what it is built from is the one recorded then: the CSV file's checksum,
      the seed's config (column types, quoting, grants, docs settings), its descriptions and
      dbt's version;
    - the build is not a --full-refresh.
    Anything else loads it as dbt's own materialization does (the code below it is dbt 1.11's
    default seed materialization), then records its digests. -#}
{%- materialization seed, adapter='postgres' -%}

  {%- set identifier = model['alias'] -%}
  {%- set full_refresh_mode = (should_full_refresh()) -%}

  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}

  {%- set exists_as_table = (old_relation is not none and old_relation.is_table) -%}
  {%- set exists_as_view = (old_relation is not none and old_relation.is_view) -%}

  {%- set grant_config = config.get('grants') -%}
  {%- set agate_table = load_agate_table() -%}

  {%- do store_result('agate_table', response='OK', agate_table=agate_table) -%}

  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set digest = local_md5(
      dbt_version ~ '|' ~ model.checksum.checksum ~ '|' ~ tojson(model.config)
      ~ '|' ~ model.description ~ '|' ~ tojson(model.columns)
  ) -%}
  {%- set rows_md5 =
      "(select md5(coalesce(string_agg(loaded::text, '|' order by loaded::text), '')) from "
      ~ target_relation ~ " as loaded)" -%}
  {%- set digests = build_digests_exist() -%}

  {%- if digests and exists_as_table and not full_refresh_mode
        and unchanged_since_built(target_relation, digest, rows_md5) -%}
    {{ run_hooks(pre_hooks) }}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  -- build model
  {% set create_table_sql = "" %}
  {% if exists_as_view %}
    {{ exceptions.raise_compiler_error("Cannot seed to '{}', it is a view".format(old_relation.render())) }}
  {% elif exists_as_table %}
    {% set create_table_sql = reset_csv_table(model, full_refresh_mode, old_relation, agate_table) %}
  {% else %}
    {% set create_table_sql = create_csv_table(model, agate_table) %}
  {% endif %}

  {% set code = 'CREATE' if full_refresh_mode else 'INSERT' %}
  {% set rows_affected = (agate_table.rows | length) %}
  {% set sql = "" %}
  {% if rows_affected > 0 %}
    {% set sql = load_csv_rows(model, agate_table) %}
  {% endif %}

  {% call noop_statement('main', code ~ ' ' ~ rows_affected, code, rows_affected) %}
    {{ get_csv_sql(create_table_sql, sql) }};
  {% endcall %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {% if full_refresh_mode or not exists_as_table %}
    {% do create_indexes(target_relation) %}
  {% endif %}

  {% if digests %}
    {% do record_build_digest(target_relation, digest, rows_md5) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
