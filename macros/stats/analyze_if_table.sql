{#- Post-hook of the intermediate models: a model built as a table (the int_<entity>_mapped
    models) is analyzed at once. A new table has no statistics until autovacuum reaches it,
    which is after the statements that read it: the mart's upsert, the row bookkeeping
    (record_row_issues) and the tests, all planned meanwhile on guesses (200 distinct values
    per column). The same kind of misplan, on the bookkeeping tables' stale statistics, made
    one row-bookkeeping statement of a scale-1.0 delta run take more than ten minutes
    (orchestrator/bookkeeping/store.py refresh_statistics). Views need nothing: the empty
    hook is skipped. -#}
{% macro analyze_if_table() -%}
    {%- if config.get('materialized') == 'table' -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
