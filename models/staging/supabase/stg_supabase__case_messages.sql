with

source as (
    select * from {{ source('supabase', 'case_messages') }}
),

renamed as (
    select
        ---------- keys
        id as case_message_id,
        legacy_message_id,

        ---------- foreign keys
        case_id,
        sender_id,
        author_id,

        ---------- mapped columns
        message_type::text as message_type,
        subject,
        content,
        priority,
        requires_response,
        sent_at,
        legacy_record_id,

        ---------- which copy of a key is kept (the oldest)
        created_at
    from source
    where legacy_message_id is not null
)

select * from renamed
