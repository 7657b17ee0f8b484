{#- dbt's test materialization, for PostgreSQL, made to refill the table of a test's failures
    (store_failures, in diffmig_audit) instead of dropping and creating it at every build
    (refill.sql says why: the live app's schema cache). The table is refilled, with no DDL,
    when it exists as a table with the columns the test's query returns; anything else is dbt
    1.11's default test materialization (the code below). -#}
{%- materialization test, adapter='postgres' -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% if should_store_failures() %}

    {% set identifier = model['alias'] %}
    {% set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) %}

    {% set store_failures_as = config.get('store_failures_as') %}
    {% if store_failures_as == none %}{% set store_failures_as = 'table' %}{% endif %}
    {% if store_failures_as not in ['table', 'view'] %}
        {{ exceptions.raise_compiler_error(
            "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
            "Accepted values are: ['ephemeral', 'table', 'view']"
        ) }}
    {% endif %}

    {% set target_relation = api.Relation.create(
        identifier=identifier, schema=schema, database=database, type=store_failures_as) -%}

    {% if store_failures_as == 'table' and old_relation is not none and old_relation.is_table
          and not sql_header and has_shape_of(target_relation, sql_with_limit) %}
      {% call statement(auto_begin=True) %}
        truncate table {{ target_relation }};
        insert into {{ target_relation }}
        select * from (
            {{ sql_with_limit }}
        ) as query
      {% endcall %}
    {% else %}
      {% if old_relation %}
          {% do adapter.drop_relation(old_relation) %}
      {% endif %}

      {% call statement(auto_begin=True) %}
          {% if sql_header %}{{ sql_header }}{% endif %}
          {{ get_create_sql(target_relation, sql_with_limit) }}
      {% endcall %}
    {% endif %}

    {% do relations.append(target_relation) %}

    {% set main_sql %}
        select *
        from {{ target_relation }}
    {% endset %}

    {{ adapter.commit() }}

  {% else %}

      {% set main_sql = sql_with_limit %}

  {% endif %}

  {% set fail_calc = config.get('fail_calc') %}
  {% set warn_if = config.get('warn_if') %}
  {% set error_if = config.get('error_if') %}

  {% call statement('main', fetch_result=True) -%}

    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(main_sql, fail_calc, warn_if, error_if, limit=none)}}

  {%- endcall %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
