{#- Why a migration_mappings row is junk, or null: the row-local rules, over the columns
    `legacy_id` and `new_id` (give a qualified name when needed). Used by
    stg_bookkeeping__migration_mappings and the mapping_integrity test. The rule itself is
    declared once, as the SQL function diffmig.mapping_junk_reason (bookkeeping DDL
    0007_mapping_junk_reason.sql), which the orchestrator's own queries (`mappings check`,
    `baseline`) call too; the planner inlines it, so it costs what the CASE written out costs. -#}
{% macro mapping_junk_reason(legacy_id='legacy_id', new_id='new_id') -%}
    diffmig.mapping_junk_reason({{ legacy_id }}, {{ new_id }})
{%- endmacro %}
