{#- The UUID diffmig issues for a legacy key seen for the first time: UUID v5 of this
    installation's namespace (diffmig.installation) and '<entity>:<key>'. Deterministic, so a rerun
    or a resumed run issues the same UUID and a lost mapping can be rebuilt. -#}
{% macro legacy_uuid(entity, key_expression) -%}
    {%- if entity is not string or entity == '' -%}
        {{ exceptions.raise_compiler_error("legacy_uuid: entity must be a non-empty string, got " ~ entity) }}
    {%- endif -%}
    extensions.uuid_generate_v5((select installation.namespace from diffmig.installation as installation), '{{ entity }}:' || ({{ key_expression }})::text)
{%- endmacro %}
