{#- The upsert of every mart into its app table (app_upsert.sql, when the table holds rows).

    Upserts the model's rows (`sql`) into the app table on the model's unique_key (the legacy
    key, or the natural key of a junction table), writing only `columns`, the columns the
    mapping owns. On conflict:
      - `id` is never updated: an issued UUID never changes;
      - columns listed in config `insert_only_columns` are written on insert only;
      - jsonb columns listed in config `merge_jsonb_columns` (metadata) are merged key by key
        into what the app stored there, so the app's own keys survive;
      - a row whose owned columns already hold the same values is not touched (no trigger fires,
        updated_at stays, no index or foreign key is checked again).
    A mart declaring `meta.diffmig.duplicate_targets: keep_oldest` (an app table without a unique
    constraint on its legacy key, holding several rows of some keys: entity_pattern.sql) is
    written by id instead, the kept row's id that int_<entity>_keyed resolved; a reconcile
    first deletes every row of such a key but the oldest (created_at, then id).
-#}
{% macro owned_upsert_sql(target, sql, columns) %}
    {%- set unique_key = config.get('unique_key') -%}
    {%- if unique_key is none or unique_key == [] or unique_key == '' -%}
        {{ exceptions.raise_compiler_error(
            "app_upsert: model " ~ target ~ " needs a unique_key (its legacy or natural key)"
        ) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set declared = ((config.get('meta') or {}).get('diffmig') or {}).get('duplicate_targets') -%}
    {%- set conflict_keys = ['id'] if declared == 'keep_oldest' else keys -%}
    {%- set insert_only = config.get('insert_only_columns', []) -%}
    {%- set merged = config.get('merge_jsonb_columns', []) -%}
    {%- set updatable = [] -%}
    {%- for name in columns -%}
        {%- if name not in keys and name != 'id' and name not in insert_only -%}
            {%- do updatable.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set quoted = _quoted(columns) -%}
    {%- set quoted_keys = _quoted(conflict_keys) %}
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
    from (
        {{ sql }}
    ) as model_rows
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
