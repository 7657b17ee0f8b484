with

source as (
    select * from {{ source('legacy', 'dispatch_role_permissions') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_role_permission_id,
        role_id as legacy_role_id,
        permission_id as legacy_permission_id,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
