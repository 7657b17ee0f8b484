with

source as (
    select * from {{ source('supabase', 'message_attachments') }}
),

renamed as (
    select
        ---------- keys
        id as message_attachment_id,
        legacy_record_id,
        legacy_file_id,

        ---------- foreign keys
        message_id,
        file_id,

        ---------- mapped columns
        attachment_type,
        display_name,
        file_size,
        mime_type,
        attached_at
    from source
)

select * from renamed
