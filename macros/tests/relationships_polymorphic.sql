{#- Generic test: a polymorphic foreign key (a value whose parent table depends on a type column),
    e.g. messages.recipient_id per recipient_type. In the style of dbt-utils' relationships_where.

    targets maps each type value to {to: <relation>, field: <column>, where: <optional filter>},
    or to null to leave the values of that type unchecked (declared on purpose).
    Failing rows (column_name not null only, as dbt's relationships test):
      not_found            the value is not in the relation of its type
      type_without_target  the type is null or not a key of targets
-#}
{% test relationships_polymorphic(model, column_name, type_column, targets) %}
    {%- if type_column is not string or type_column | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "relationships_polymorphic: type_column must be a column name, got " ~ type_column
        ) }}
    {%- endif -%}
    {%- if targets is not mapping or targets | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "relationships_polymorphic: targets must map each type value to "
            ~ "{to: <relation>, field: <column>} (or null), got " ~ targets
        ) }}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- for type_value, target in targets.items() -%}
        {%- if target is not none -%}
            {%- if target is not mapping or target.get('to') is none
                or target.get('field') is not string -%}
                {{ exceptions.raise_compiler_error(
                    "relationships_polymorphic: the target of type '" ~ type_value
                    ~ "' must be {to: <relation>, field: <column>} (or null), got " ~ target
                ) }}
            {%- endif -%}
            {%- do checked.append((type_value | string, target)) -%}
        {%- endif -%}
    {%- endfor %}

with

children as (
    select
        {{ type_column }}::text as type_value,
        {{ column_name }} as child_value
    from {{ model }}
    where {{ column_name }} is not null
),
{%- for type_value, target in checked %}

parents_{{ loop.index }} as (
    select {{ target['field'] }} as parent_value
    from {{ target['to'] }}
    {%- if target.get('where') %}
    where {{ target['where'] }}
    {%- endif %}
),
{%- endfor %}

failures as (
    select
        children.type_value,
        children.child_value,
        'type_without_target' as problem
    from children
    where
        children.type_value is null
        or children.type_value not in (
            {%- for type_value in targets.keys() %}
            '{{ type_value | string | replace("'", "''") }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- for type_value, target in checked %}

    union all

    select
        children.type_value,
        children.child_value,
        'not_found' as problem
    from children
    where
        children.type_value = '{{ type_value | replace("'", "''") }}'
        and not exists (
            select 1 from parents_{{ loop.index }}
            where parents_{{ loop.index }}.parent_value = children.child_value
        )
    {%- endfor %}
)

select * from failures
{% endtest %}
