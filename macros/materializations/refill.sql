{#- Refilling a table in place instead of building it again, for the table and test
    materializations (table.sql, test.sql).

    On a Supabase project every CREATE, ALTER, COMMENT or DROP outside pg_temp makes the HTTP
    API reload its schema cache (docs/reliability.md, "Schema-cache reloads"): dbt's way of
    building a table (create a new one, rename, comment, drop the old one) costs the live app
    two reloads per table at every build. TRUNCATE and INSERT are not DDL: a table whose columns
    are those its query returns now is emptied and filled again instead, in one transaction.

    The columns are compared in the catalog: the query's through an empty temporary table
    (`limit 0`: planned, not run; pg_temp is not watched), the table's as they are. Names,
    types with their modifiers, and order must all match; anything else (a column added,
    renamed or retyped, here or upstream) is the caller's full build. -#}

{#- True when `relation` exists with exactly the columns `sql` returns. Runs in the caller's
    transaction (the probe goes at its commit). -#}
{% macro has_shape_of(relation, sql) %}
    {%- set name = relation.include(database=false) | string -%}
    {%- call statement('shape_probe', fetch_result=True) -%}
        drop table if exists pg_temp.diffmig_shape_probe;
        create temp table diffmig_shape_probe on commit drop as
        select * from (
            {{ sql }}
        ) as query limit 0;
        with
        probe as ({{ columns_of("'pg_temp.diffmig_shape_probe'::regclass") }}),
        built as ({{ columns_of("to_regclass('" ~ name ~ "')") }})

        select
            exists (select from built)
            and not exists (select * from probe except select * from built)
            and not exists (select * from built except select * from probe) as same_shape
    {%- endcall -%}
    {{ return(load_result('shape_probe')['data'][0][0] in (true, 'True', 't')) }}
{% endmacro %}

{#- A relation's columns (its oid an SQL expression): name, type with modifiers, position. -#}
{% macro columns_of(relation_oid) %}
    select
        attname,
        format_type(atttypid, atttypmod) as column_type,
        row_number() over (order by attnum) as position
    from pg_attribute
    where attrelid = {{ relation_oid }} and attnum > 0 and not attisdropped
{% endmacro %}

{#- Empties `relation` and fills it with the rows of `sql`: the node's main statement (its
    rows_affected are the rows inserted). -#}
{% macro refill_table(relation, sql) %}
    {%- call statement('main') -%}
        truncate table {{ relation }};
        insert into {{ relation }}
        select * from (
            {{ sql }}
        ) as query
    {%- endcall -%}
{% endmacro %}
