{#- The row-local junk rules only. A UUID shared by several mappings is also untrustworthy, but
    telling that needs every mapping of every type (2.5 M rows at scale 1.0, grouped by new_id:
    seconds per read): resolve_legacy_keys checks it for the new_ids of the types it reads. -#}
with

source as (
    select * from {{ source('supabase', 'migration_mappings') }}
),

flagged as (
    select
        entity_type,
        legacy_id,
        new_id,
        migrated_at,
        migration_batch,
        {{ mapping_junk_reason() }} as junk_reason
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
