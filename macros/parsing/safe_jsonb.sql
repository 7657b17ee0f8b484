{#- JSON held as text -> jsonb, never raising: a malformed, empty or 'null' value gives NULL
    (see diffmig.try_jsonb); pair it with json_is_invalid() to report the row. -#}
{% macro safe_jsonb(column) -%}
    diffmig.try_jsonb({{ column }})
{%- endmacro %}

{#- True when the text is not NULL and is not valid JSON: malformed, or empty / blank (an empty
    string is no JSON document; the literal 'null' is valid JSON). -#}
{% macro json_is_invalid(column) -%}
    ({{ column }} is not null and diffmig.try_jsonb({{ column }}) is null
        and btrim({{ column }}) <> 'null')
{%- endmacro %}
