with

source as (
    select * from {{ source('legacy', 'auth_group') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_group_id,

        ---------- strings
        name as group_name,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
