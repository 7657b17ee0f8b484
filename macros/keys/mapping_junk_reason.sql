{#- Why a migration_mappings row is junk, or null: the row-local rules, over the columns
    `legacy_id` and `new_id` (give a qualified name when needed). Used by
    stg_bookkeeping__migration_mappings and the mapping_integrity test; mappings.JUNK_REASON_SQL
    is the same rule for the orchestrator's own queries (`mappings check`, `baseline`). A
    placeholder UUID has 32 equal hex digits (compared with repeat(): a regex with a
    back-reference cost 5 us per row, 13 s over the 2.5 M mappings of scale 1.0). -#}
{% macro mapping_junk_reason(legacy_id='legacy_id', new_id='new_id') -%}
    case
        when {{ legacy_id }} is null or {{ legacy_id }} <= 0 then 'legacy_id missing or not positive'
        when {{ new_id }} is null then 'new_id missing'
        when replace({{ new_id }}::text, '-', '') = repeat(left({{ new_id }}::text, 1), 32)
            then 'placeholder uuid'
    end
{%- endmacro %}
