{#- Generic test: the combination of columns is unique (the grain of a junction table such as
    doctor_offices (doctor_id, office_id)). As dbt-utils' unique_combination_of_columns: NULLs
    count as a value. Failing rows: each combination held by more than one row, with n_rows.
    Proved from the catalog, no row read, when the tested table has a valid unique index
    without a predicate on exactly these columns, each NOT NULL (the junction tables' unique
    constraints, migration_mappings' primary key); otherwise every row is grouped. A model
    that is no plain relation (a `where` config) is always grouped. -#}
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
    {%- set relation = none if model is string or model.identifier is not defined or not model.identifier
        else "'" ~ (model | string | replace("'", "''")) ~ "'" %}

with

grouped as (
    select
        {%- for column in combination %}
        {{ column }},
        {%- endfor %}
        count(*) as n_rows
    from {{ model }}
    {%- if relation is not none %}
    where not exists (
        select 1
        from pg_catalog.pg_index as indexes
        where
            indexes.indrelid = to_regclass({{ relation }})
            and indexes.indisunique
            and indexes.indisvalid
            and indexes.indpred is null
            and indexes.indnkeyatts = {{ combination | length }}
            and (
                select count(*)
                from pg_catalog.pg_attribute as attributes
                where
                    attributes.attrelid = indexes.indrelid
                    and attributes.attnum = any((indexes.indkey::int2 [])[0:indexes.indnkeyatts - 1])
                    and attributes.attnotnull
                    and not attributes.attisdropped
                    and attributes.attname in (
                        {%- for column in combination %}
                        '{{ column | replace("'", "''") }}'{{ "," if not loop.last }}
                        {%- endfor %}
                    )
            ) = {{ combination | length }}
    )
    {%- endif %}
    group by {{ combination | join(', ') }}
),

failures as (
    select * from grouped
    where n_rows > 1
)

select * from failures
{% endtest %}
