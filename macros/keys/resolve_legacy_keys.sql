{#- The key map of one entity: every legacy key -> the UUID of its target row. Never changes an
    issued UUID. Precedence:
    The keys are the staged legacy keys and the legacy keys of existing target rows (a row deleted
    in the source before diffmig ever synced it is only known from its target row).
      1. the target row that already carries the legacy key (its id);
      2. else a trusted migration_mappings row of one of `mapping_types` (not junk, its UUID
         carried by no other mapping and not taken by another target row of the table);
      3. else a new UUID v5 of (installation namespace, entity, key): deterministic.
    Arguments:
      entity         the entity name used in UUID v5 and bookkeeping (e.g. 'offices')
      legacy_keys    a select of the entity's legacy keys, as column `legacy_key`
      targets        a select of the target rows: `legacy_key`, `target_id`
      mapping_types  migration_mappings.entity_type values to trust (may be empty)
-#}
{% macro resolve_legacy_keys(entity, legacy_keys, targets, mapping_types=[]) -%}
    {%- if entity is not string or entity == '' -%}
        {{ exceptions.raise_compiler_error("resolve_legacy_keys: entity must be a non-empty string") }}
    {%- endif -%}
with

staged_keys as (
    {{ legacy_keys }}
),

targets as (
    {{ targets }}
),

-- Keys of target rows whose legacy row was deleted before diffmig first synced it keep their
-- UUID too (the mapping layer soft-deletes or reports them).
legacy_keys as (
    select staged_keys.legacy_key from staged_keys
    union
    select targets.legacy_key from targets
),

{%- if mapping_types %}

-- Only the mappings of keys without a target row can decide a UUID (a target row's id comes
-- first): once every key has its row, none is left, and the scan of every mapping below for
-- shared UUIDs ends before it starts (its hash is empty).
typed_mappings as (
    select
        mappings.legacy_id,
        mappings.new_id,
        mappings.entity_type,
        mappings.migrated_at
    from {{ ref('stg_bookkeeping__migration_mappings') }} as mappings
    where
        not mappings.is_junk
        and mappings.entity_type in ({% for t in mapping_types %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %})
        and not exists (
            select 1 from targets
            where targets.legacy_key = mappings.legacy_id
        )
),

-- UUIDs of these mappings that several mappings (of any type) carry: junk, whichever is right.
-- Only these new_ids are grouped (one scan of the table, no grouping of all of it).
shared_new_ids as (
    select others.new_id
    from {{ ref('stg_bookkeeping__migration_mappings') }} as others
    where others.new_id in (select typed_mappings.new_id from typed_mappings)
    group by others.new_id
    having count(*) > 1
),

mapped as (
    select
        typed_mappings.legacy_id as legacy_key,
        typed_mappings.new_id,
        row_number() over (
            partition by typed_mappings.legacy_id
            order by typed_mappings.migrated_at, typed_mappings.entity_type
        ) as preference
    from typed_mappings
    where
        typed_mappings.new_id not in (select shared_new_ids.new_id from shared_new_ids)
        -- a UUID another target row already uses cannot be this key's
        and not exists (
            select 1 from targets
            where
                targets.target_id = typed_mappings.new_id
                and targets.legacy_key <> typed_mappings.legacy_id
        )
),

trusted_mappings as (
    select legacy_key, new_id from mapped where preference = 1
),
{%- endif %}

-- One target row per legacy key (an app table without a unique legacy key may hold several:
-- any one of them). Deduplicated here, not over the joined rows below: a DISTINCT there made
-- PostgreSQL guess the key map at 200 rows, and the mapped models then joined it to their
-- considered rows in nested loops (minutes for 200,000 plans at scale 1.0).
target_keys as (
    select distinct on (targets.legacy_key)
        targets.legacy_key,
        targets.target_id
    from targets
    order by targets.legacy_key
),
resolved as (
    select
        legacy_keys.legacy_key,
        coalesce(
            target_keys.target_id,
            {%- if mapping_types %} trusted_mappings.new_id,{% endif %}
            {{ legacy_uuid(entity, 'legacy_keys.legacy_key') }}
        ) as target_id,
        case
            when target_keys.target_id is not null then 'target'
            {%- if mapping_types %}
            when trusted_mappings.new_id is not null then 'mapping'
            {%- endif %}
            else 'new'
        end as key_origin
    from legacy_keys
    left join target_keys on legacy_keys.legacy_key = target_keys.legacy_key
    {%- if mapping_types %}
    left join trusted_mappings on legacy_keys.legacy_key = trusted_mappings.legacy_key
    {%- endif %}
)

select * from resolved
{%- endmacro %}
