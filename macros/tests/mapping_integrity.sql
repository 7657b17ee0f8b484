{#- Generic test: public.migration_mappings agrees with the mart's table for one entity_type.

    Reads the table through the migration_mappings mart (ref), so a full `dbt build` tests after
    diffmig wrote its mappings, and has no other parent: a test that also depended on a model an
    earlier entity builds (stg_bookkeeping__migration_mappings) would be selected, by dbt's eager
    indirect selection, into that entity's build, before this mart is written.
    One failing row per mapping or table row, with its first problem:
      junk_mapping           a mapping of this type that is junk by the rules of
                             stg_bookkeeping__migration_mappings (legacy_id missing or not
                             positive, new_id missing, placeholder UUID)
      duplicate_new_id       its new_id is also the new_id of another mapping, of any entity type
                             (except the types in allow_shared_with: e.g. patient_profile rows
                             share the profile's UUID by design)
      new_id_not_in_table    its new_id is no row of the table (a stale or failed-insert UUID)
      new_id_of_another_row  its new_id is the row of another legacy key
      row_without_mapping    a table row with a legacy key and no mapping of this type
    convention_column names a column of the table (e.g. profile_id): a mapping whose new_id is
    that column's value in the row carrying its key follows an earlier scripts' documented
    convention (docs/decisions/adr-0010-earlier-scripts-conventions.md) and is not a failure.
-#}
{% test mapping_integrity(
    model, legacy_key, entity_type, id_column='id', allow_shared_with=[], convention_column=none
) %}
    {%- if legacy_key is not string or legacy_key | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "mapping_integrity: legacy_key must be the table's legacy key column, got " ~ legacy_key
        ) }}
    {%- endif -%}
    {%- if entity_type is not string or entity_type | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "mapping_integrity: entity_type must be a migration_mappings.entity_type (e.g. "
            ~ "'office'), got " ~ entity_type
        ) }}
    {%- endif -%}
    {%- if id_column is not string or id_column | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "mapping_integrity: id_column must be the table's uuid column, got " ~ id_column
        ) }}
    {%- endif -%}
    {%- if convention_column is not none and (
        convention_column is not string or convention_column | trim == ''
    ) -%}
        {{ exceptions.raise_compiler_error(
            "mapping_integrity: convention_column must be a column of the table, got "
            ~ convention_column
        ) }}
    {%- endif -%}
    {%- if allow_shared_with is string or allow_shared_with is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "mapping_integrity: allow_shared_with must be a list of entity types, got "
            ~ allow_shared_with
        ) }}
    {%- endif %}

with

{#- Only this entity type's mappings are read in full (the primary key's leading column is
    entity_type); the other types' rows are read for the new_ids this type also uses. At scale
    1.0 the table has 2.5 M rows, 2 M of them system messages: grouping the whole table by new_id
    in each of the 14 tests cost minutes per run. #}
mappings as (
    select
        legacy_id,
        new_id,
        {{ mapping_junk_reason() }} as junk_reason
    from {{ ref('migration_mappings') }}
    where entity_type = '{{ entity_type }}'
),

table_rows as (
    select
        {{ id_column }} as row_id,
        {{ legacy_key }} as legacy_id{{ "," if convention_column is not none }}
        {%- if convention_column is not none %}
        {{ convention_column }} as convention_id
        {%- endif %}
    from {{ model }}
),

shared_new_ids as (
    select
        holders.new_id,
        string_agg(
            holders.entity_type || ' ' || coalesce(holders.legacy_id::text, 'null'), ', '
            order by holders.entity_type, holders.legacy_id
        ) as holders
    from {{ ref('migration_mappings') }} as holders
    where
        holders.new_id in (select mappings.new_id from mappings)
        {%- if allow_shared_with | length > 0 %}
        and holders.entity_type not in (
            {%- for shared_type in allow_shared_with %}
            '{{ shared_type }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
        {%- endif %}
    group by holders.new_id
    having count(*) > 1
),

checked_mappings as (
    select
        '{{ entity_type }}' as entity_type,
        mappings.legacy_id,
        mappings.new_id,
        case
            when mappings.junk_reason is not null then 'junk_mapping'
            when shared_new_ids.new_id is not null then 'duplicate_new_id'
            when table_rows.row_id is null then 'new_id_not_in_table'
            when table_rows.legacy_id is distinct from mappings.legacy_id
                then 'new_id_of_another_row'
        end as problem,
        case
            when mappings.junk_reason is not null then mappings.junk_reason
            when shared_new_ids.new_id is not null then 'mappings: ' || shared_new_ids.holders
            when table_rows.row_id is null then 'no row of the table has this id'
            when table_rows.legacy_id is distinct from mappings.legacy_id
                then 'the row is {{ legacy_key }} ' || coalesce(table_rows.legacy_id::text, 'null')
        end as detail
    from mappings
    left join shared_new_ids on mappings.new_id = shared_new_ids.new_id
    left join table_rows on mappings.new_id = table_rows.row_id
    {%- if convention_column is not none %}
    where not exists (
        select 1 from table_rows as key_rows
        where
            key_rows.legacy_id = mappings.legacy_id
            and key_rows.convention_id = mappings.new_id
    )
    {%- endif %}
),

unmapped_rows as (
    select
        '{{ entity_type }}' as entity_type,
        table_rows.legacy_id,
        table_rows.row_id as new_id,
        'row_without_mapping' as problem,
        'no migration_mappings row ({{ entity_type }}, ' || table_rows.legacy_id || ')' as detail
    from table_rows
    where
        table_rows.legacy_id is not null
        and not exists (
            select 1 from mappings
            where mappings.legacy_id = table_rows.legacy_id
        )
),

failures as (
    select
        entity_type,
        legacy_id,
        new_id,
        problem,
        detail
    from checked_mappings
    where problem is not null

    union all

    select
        entity_type,
        legacy_id,
        new_id,
        problem,
        detail
    from unmapped_rows
)

select * from failures
{% endtest %}
