{#- dbt's built-in unique and not_null tests, proved from the catalog when the database already
    enforces what they check, and run as dbt runs them otherwise.

    The app tables carry their own primary keys, unique legacy keys and NOT NULL columns: a scan
    of every row (2 million system messages at scale 1.0, hundreds of thousands of orders) only
    finds again what PostgreSQL guarantees on every write, whoever writes. So each test first
    asks the catalog, in the same query:
      unique    a valid unique index without a predicate on exactly that one column;
      not_null  the column is declared NOT NULL.
    When the catalog proves it, a one-time filter (evaluated before any row is read) ends the
    query with no rows; otherwise the query is dbt's own and scans as before. Views (staging and
    intermediate models), expressions as column names and tests with a `where` config (dbt
    passes a subquery, not a relation) have no constraints to read and are always scanned.
    Not relationships: a foreign key is no proof, since rows written with
    session_replication_role = replica (a dump restored, a bulk load with triggers off) skip it,
    and finding such orphans is what `diffmig validate` is for; dbt's own test scans.
    These override the dbt package's default__test_* macros (root project first in dispatch).
    Each is self-contained, on purpose: dbt's partial parsing renders a dispatched test macro
    without the root project's other macros, so a helper macro called from here was
    'undefined' in the first run after any macro changed (a full parse was fine). -#}

{% macro default__test_unique(model, column_name) %}
{%- set relation = none if model is string or model.identifier is not defined or not model.identifier
    else "'" ~ (model | string | replace("'", "''")) ~ "'" -%}

select
    {{ column_name }} as unique_field,
    count(*) as n_records

from {{ model }}
where
    {{ column_name }} is not null
    {%- if relation is not none %}
    and not exists (
        select 1
        from pg_catalog.pg_index as indexes
        inner join pg_catalog.pg_attribute as attributes
            on
                indexes.indrelid = attributes.attrelid
                and attributes.attnum = indexes.indkey[0]
        where
            indexes.indrelid = to_regclass({{ relation }})
            and indexes.indisunique
            and indexes.indisvalid
            and indexes.indnkeyatts = 1
            and indexes.indpred is null
            and attributes.attname = '{{ column_name | string | replace("'", "''") }}'
    )
    {%- endif %}
group by {{ column_name }}
having count(*) > 1

{% endmacro %}

{% macro default__test_not_null(model, column_name) %}
{%- set relation = none if model is string or model.identifier is not defined or not model.identifier
    else "'" ~ (model | string | replace("'", "''")) ~ "'" -%}
{% set column_list = '*' if should_store_failures() else column_name %}

select {{ column_list }}
from {{ model }}
where
    {{ column_name }} is null
    {%- if relation is not none %}
    and not exists (
        select 1
        from pg_catalog.pg_attribute as attributes
        inner join pg_catalog.pg_class as classes on attributes.attrelid = classes.oid
        where
            attributes.attrelid = to_regclass({{ relation }})
            and classes.relkind in ('r', 'p')
            and attributes.attname = '{{ column_name | string | replace("'", "''") }}'
            and attributes.attnotnull
            and not attributes.attisdropped
    )
    {%- endif %}

{% endmacro %}
