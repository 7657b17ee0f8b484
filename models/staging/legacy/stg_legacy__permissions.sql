with

source as (
    select * from {{ source('legacy', 'auth_permission') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_permission_id,
        content_type_id as legacy_content_type_id,

        ---------- strings
        name as permission_name,
        codename,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
