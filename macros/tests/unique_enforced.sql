{#- Generic test: `column_name` is unique because a unique index says so, proved from the
    catalog instead of by grouping every row (the notifications and system messages are 5 and
    2 million rows at scale 1.0: a scan per run and per relation costs seconds).

    `table` is the table whose index enforces it: the model itself when it is a table, or the
    table a staging view selects from (rename and filter only: a view without joins or unions
    keeps its table's unique keys); `table_column` is that table's column (default: the same
    name). The index must be unique, valid, on that one column and without a predicate; a
    primary key also rules out nulls. One failing row when no such index exists (or no such
    table). On a table tested in place, use `unique`: it reads the same catalog (the override
    in catalog_proofs.sql) and scans when the index is gone instead of failing. -#}
{% test unique_enforced(model, column_name, table=none, table_column=none) %}
    {%- set enforcing_table = table if table is not none else model -%}
    {%- set enforcing_column = table_column if table_column is not none else column_name -%}
    {%- if enforcing_column is not string or enforcing_column | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "unique_enforced: table_column must be a column of " ~ enforcing_table
            ~ ", got " ~ enforcing_column
        ) }}
    {%- endif %}

with

enforcing_indexes as (
    select indexes.indexrelid
    from pg_catalog.pg_index as indexes
    inner join pg_catalog.pg_attribute as attributes
        on
            indexes.indrelid = attributes.attrelid
            and attributes.attnum = indexes.indkey[0]
    where
        indexes.indrelid = to_regclass('{{ enforcing_table }}')
        and indexes.indisunique
        and indexes.indisvalid
        and indexes.indnkeyatts = 1
        and indexes.indpred is null
        and attributes.attname = '{{ enforcing_column }}'
)

select
    '{{ enforcing_table }}' as enforcing_table,
    '{{ enforcing_column }}' as enforcing_column,
    case
        when to_regclass('{{ enforcing_table }}') is null then 'no such table'
        else 'no valid unique index on this one column'
    end as problem
where not exists (select 1 from enforcing_indexes)
{% endtest %}
