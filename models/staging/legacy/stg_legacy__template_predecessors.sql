with

source as (
    select * from {{ source('legacy', 'dispatch_template_predecessors') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_id,
        template_id as legacy_template_id,
        to_template_id as legacy_predecessor_template_id,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
