{#- Rows of a staged relation that a sync brought after the entity's last applied run
    (var since_run; 0 in full mode selects everything). -#}
{% macro changed_since(alias) -%}
    {{ alias }}.synced_run > {{ var('since_run', 0) | int }}
{%- endmacro %}
