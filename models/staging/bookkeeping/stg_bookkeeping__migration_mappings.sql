with

source as (
    select * from {{ source('supabase', 'migration_mappings') }}
),

shared_new_ids as (
    select new_id
    from source
    where new_id is not null
    group by new_id
    having count(*) > 1
),

flagged as (
    select
        source.entity_type,
        source.legacy_id,
        source.new_id,
        source.migrated_at,
        source.migration_batch,
        case
            when source.legacy_id is null or source.legacy_id <= 0
                then 'legacy_id missing or not positive'
            when source.new_id is null then 'new_id missing'
            when replace(source.new_id::text, '-', '') ~ '^(.)\1{31}$' then 'placeholder uuid'
            when source.new_id in (select shared_new_ids.new_id from shared_new_ids)
                then 'new_id shared by several mappings'
        end as junk_reason
    from source
)

select
    entity_type,
    legacy_id,
    new_id,
    migrated_at,
    migration_batch,
    junk_reason,
    junk_reason is not null as is_junk
from flagged
