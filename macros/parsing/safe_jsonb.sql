{#- JSON held as text -> jsonb, never raising: a malformed, empty or 'null' value gives NULL
    (see diffmig.try_jsonb); pair it with json_is_invalid() to report the row. -#}
{% macro safe_jsonb(column) -%}
    diffmig.try_jsonb({{ column }})
{%- endmacro %}

{#- True when the text holds something (not NULL, not blank) that is not valid JSON. -#}
{% macro json_is_invalid(column) -%}
    (nullif(btrim({{ column }}), '') is not null and diffmig.try_jsonb({{ column }}) is null
        and btrim({{ column }}) <> 'null')
{%- endmacro %}
