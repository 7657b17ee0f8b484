{#- The materialization of every mart: the app's own table, written in place (ADR 0012).

    dbt's incremental materialization first copies the model's rows into a temporary table and
    then upserts from it: for the largest entity that copy is two million rows written and read
    once more for nothing. This one writes the model's rows into the app table in one statement:
      - the app table holds no row (a first run over the entity, as on a new project): a plain
        INSERT ... SELECT, no conflict handling. An entity keyed by one legacy key column is then
        recorded as filled by diffmig (record_filled_by_diffmig): every keyed row of its table
        is diffmig's, so the rows it applies need no per-key record of who wrote them
        (record_row_issues; entity_pattern's not_applied);
      - otherwise the upsert of owned_upsert_sql: INSERT ... SELECT ... ON CONFLICT on the
        model's unique key, updating only the rows whose owned columns differ.
    The app table is never created, altered, truncated or dropped (guard_app_table, a pre-hook,
    refuses a missing one), and no temporary relation is made. The columns written are the
    mart's owned columns (its YAML), in that order. -#}
{% materialization app_upsert, adapter='postgres' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set columns = owned_columns(model.name) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- call statement('app_table_is_empty', fetch_result=True) -%}
        select not exists (select from {{ target_relation }}) as is_empty
    {%- endcall -%}
    {%- set is_empty = load_result('app_table_is_empty')['data'][0][0] in (true, 'True', 't') -%}

    {%- call statement('main') -%}
        {%- if is_empty %}
        insert into {{ target_relation }} ({{ _quoted(columns) | join(', ') }})
        select {{ _quoted(columns) | join(', ') }}
        from (
            {{ sql }}
        ) as model_rows
        {%- else %}
        {{ owned_upsert_sql(target_relation, sql, columns) }}
        {%- endif %}
    {%- endcall -%}

    {#- A junction's target rows are found by their pair and may be the app's own: not recorded. -#}
    {%- if is_empty and config.get('unique_key') is string %}
    {%- call statement('filled_by_diffmig') -%}
        {{ record_filled_by_diffmig(model.name) }}
    {%- endcall -%}
    {%- endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Column names, quoted. -#}
{% macro _quoted(names) -%}
    {%- set quoted = [] -%}
    {%- for name in names -%}{%- do quoted.append(adapter.quote(name)) -%}{%- endfor -%}
    {{ return(quoted) }}
{%- endmacro %}
