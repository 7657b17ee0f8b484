with

source as (
    select * from {{ source('supabase', 'system_messages') }}
),

renamed as (
    select
        ---------- keys
        id as system_message_id,
        legacy_record_id,

        ---------- foreign keys
        order_id,
        recipient_id,

        ---------- mapped columns
        message_type,
        message_code,
        message_data,
        message,
        barcode,
        tracking_number,
        carrier,
        processed,
        processed_at,
        is_active
    from source
    where legacy_record_id is not null
)

select * from renamed
