{#- Generic test: the combination of columns is unique (the grain of a junction table such as
    doctor_offices (doctor_id, office_id)). As dbt-utils' unique_combination_of_columns: NULLs
    count as a value. Failing rows: each combination held by more than one row, with n_rows. -#}
{% test unique_combination(model, combination) %}
    {%- if combination is string or combination is not iterable or combination | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination: combination must be a non-empty list of columns, got "
            ~ combination
        ) }}
    {%- endif -%}
    {%- for column in combination -%}
        {%- if column is not string or column | trim == '' -%}
            {{ exceptions.raise_compiler_error(
                "unique_combination: each column of combination must be a column name, got "
                ~ column
            ) }}
        {%- endif -%}
    {%- endfor %}

with

grouped as (
    select
        {%- for column in combination %}
        {{ column }},
        {%- endfor %}
        count(*) as n_rows
    from {{ model }}
    group by {{ combination | join(', ') }}
),

failures as (
    select * from grouped
    where n_rows > 1
)

select * from failures
{% endtest %}
