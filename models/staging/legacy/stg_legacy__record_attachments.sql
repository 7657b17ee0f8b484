with

source as (
    select * from {{ source('legacy', 'dispatch_record_attachments') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_record_attachment_id,
        record_id as legacy_record_id,
        file_id as legacy_file_id,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
