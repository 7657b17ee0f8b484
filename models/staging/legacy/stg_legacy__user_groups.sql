with

source as (
    select * from {{ source('legacy', 'auth_user_groups') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_user_group_id,
        user_id as legacy_user_id,
        group_id as legacy_group_id,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
