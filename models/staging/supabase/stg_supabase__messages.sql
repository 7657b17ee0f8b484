with

source as (
    select * from {{ source('supabase', 'messages') }}
),

renamed as (
    select
        ---------- keys
        id as message_id,
        legacy_record_id,

        ---------- foreign keys
        sender_id,
        recipient_id,

        ---------- mapped columns
        recipient_type,
        message_type,
        content,
        created_at
    from source
    where legacy_record_id is not null
)

select * from renamed
