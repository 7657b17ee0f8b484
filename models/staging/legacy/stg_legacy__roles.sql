with

source as (
    select * from {{ source('legacy', 'dispatch_role') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_role_id,
        user_id as legacy_user_id,
        group_id as legacy_group_id,

        ---------- strings
        name as role_name,
        abbrev,

        ---------- codes
        type as role_type_code,
        "order" as role_order,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
