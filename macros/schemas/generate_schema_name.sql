{#- Schemas are used exactly as configured (diffmig_stg, diffmig_int, public, ...): no target
    prefix, since the marts must land in the app's own `public` tables. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
