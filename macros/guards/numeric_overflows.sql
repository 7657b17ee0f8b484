{#- Whether a numeric value cannot be stored in a numeric(precision, scale) column: its rounding
    to `scale` digits reaches 10^(precision - scale) in absolute value (99999999.995 rounds past
    numeric(10,2)), or it is an infinity or NaN (abs(NaN) sorts above every number). NULL fits.
    Rows with such a value are held back with an error instead of failing the whole build with
    "numeric field overflow". -#}
{% macro numeric_overflows(value, precision, scale) -%}
    coalesce(abs(round(({{ value }})::numeric, {{ scale }})) >= 1e{{ precision - scale }}, false)
{%- endmacro %}
