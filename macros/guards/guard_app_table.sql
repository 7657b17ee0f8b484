{#- Pre-hook of every mart: the app owns its tables, diffmig only writes rows into them. Refuse
    to run when the table is missing or is no table (app_upsert writes into it as it is). -#}
{% macro guard_app_table() -%}
    {%- if execute -%}
        {%- set existing = load_relation(this) -%}
        {%- if existing is none -%}
            {{ exceptions.raise_compiler_error(
                "guard_app_table: the app table " ~ this ~ " does not exist. diffmig never "
                ~ "creates, drops or rebuilds app tables: create it with the app's migrations first."
            ) }}
        {%- endif -%}
        {%- if existing.type != 'table' -%}
            {{ exceptions.raise_compiler_error(
                "guard_app_table: " ~ this ~ " is a " ~ existing.type ~ ", not a table."
            ) }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
