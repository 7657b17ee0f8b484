{#- The incremental strategy of every mart (incremental_strategy: owned_upsert).

    Upserts the model's rows into the existing app table on the model's unique_key (the legacy
    key, or the natural key of a junction table), touching only the columns the model selects,
    which are the columns the mapping owns. Columns whose name starts with '_' are the model's
    own helpers and are never written. On conflict:
      - `id` is never updated: an issued UUID never changes;
      - columns listed in config `insert_only_columns` are written on insert only;
      - jsonb columns listed in config `merge_jsonb_columns` (metadata) are merged key by key
        into what the app stored there, so the app's own keys survive;
      - a row whose owned columns already hold the same values is not touched (no trigger fires,
        updated_at stays).
    A mart declaring `meta.diffmig.duplicate_targets: keep_oldest` (an app table without a unique
    constraint on its legacy key, holding several rows of some keys: entity_pattern.sql) is
    written by id instead, the kept row's id that int_<entity>_keyed resolved; a reconcile
    first deletes every row of such a key but the oldest (created_at, then id).
-#}
{% macro get_incremental_owned_upsert_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- if unique_key is none or unique_key == [] or unique_key == '' -%}
        {{ exceptions.raise_compiler_error(
            "owned_upsert: model " ~ target ~ " needs a unique_key (its legacy or natural key)"
        ) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set declared = ((config.get('meta') or {}).get('diffmig') or {}).get('duplicate_targets') -%}
    {%- set conflict_keys = ['id'] if declared == 'keep_oldest' else keys -%}
    {%- set insert_only = config.get('insert_only_columns', []) -%}
    {%- set merged = config.get('merge_jsonb_columns', []) -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(temp) -%}
        {%- if not column.name.startswith('_') -%}
            {%- do columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set updatable = [] -%}
    {%- for name in columns -%}
        {%- if name not in keys and name != 'id' and name not in insert_only -%}
            {%- do updatable.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set quoted = [] -%}
    {%- for name in columns -%}{%- do quoted.append(adapter.quote(name)) -%}{%- endfor -%}
    {%- set quoted_keys = [] -%}
    {%- for name in conflict_keys -%}{%- do quoted_keys.append(adapter.quote(name)) -%}{%- endfor %}
    {%- if declared == 'keep_oldest' and var('reconcile', false) %}
    {%- set key = adapter.quote(keys[0]) %}
    with removed_copies as (
        delete from {{ target }} as copy
        using (
            select
                ranked.id,
                row_number() over (
                    partition by ranked.{{ key }} order by {{ target_copy_order('ranked') }}
                ) as copy_rank
            from {{ target }} as ranked
            where ranked.{{ key }} is not null
        ) as copies
        where copy.id = copies.id and copies.copy_rank > 1
    )
    {%- endif %}
    insert into {{ target }} as t ({{ quoted | join(', ') }})
    select {{ quoted | join(', ') }}
    from {{ temp }}
    on conflict ({{ quoted_keys | join(', ') }})
    {%- if updatable %}
    do update set
        {%- for name in updatable %}
        {%- set q = adapter.quote(name) %}
        {{ q }} = {% if name in merged %}coalesce(t.{{ q }}, '{}'::jsonb) || excluded.{{ q }}{% else %}excluded.{{ q }}{% endif %}{{ "," if not loop.last }}
        {%- endfor %}
    where ({%- for name in updatable %}t.{{ adapter.quote(name) }}{{ ", " if not loop.last }}{%- endfor %})
        is distinct from
        ({%- for name in updatable %}{% set q = adapter.quote(name) %}{% if name in merged %}coalesce(t.{{ q }}, '{}'::jsonb) || excluded.{{ q }}{% else %}excluded.{{ q }}{% endif %}{{ ", " if not loop.last }}{%- endfor %})
    {%- else %}
    do nothing
    {%- endif %}
{% endmacro %}
