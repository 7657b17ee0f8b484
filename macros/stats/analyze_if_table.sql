{#- Post-hook of the intermediate models: a model built as a table (the int_<entity>_mapped
    models) is analyzed at once. A new table has no statistics until autovacuum reaches it,
    which is after the statements that read it: the mart's upsert, the row bookkeeping
    (record_row_issues) and the tests. Without them the planner guessed 200 distinct legacy keys
    and chose nested loops; at scale 1.0, the system messages' bookkeeping of a delta run
    (21,005 rows considered against 2 million open drift warnings) ran for more than 10
    minutes instead of seconds. Views need nothing: the empty hook is skipped. -#}
{% macro analyze_if_table() -%}
    {%- if config.get('materialized') == 'table' -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
