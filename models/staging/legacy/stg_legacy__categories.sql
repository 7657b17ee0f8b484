with

source as (
    select * from {{ source('legacy', 'dispatch_category') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_category_id,
        parent_id as legacy_parent_category_id,

        ---------- strings
        name as category_name,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
