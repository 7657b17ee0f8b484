{{
    config(
        unique_key='legacy_record_id',
        tags=['system_messages'],
        merge_jsonb_columns=['metadata'],
        insert_only_columns=['created_at'],
        post_hook=["{{ record_row_issues('system_messages', 'dispatch_notification', ref('int_system_messages_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_system_messages_mapped') }}
)

select
    id,
    message_type,
    order_id,
    recipient_id,
    message_code,
    message_data,
    message,
    barcode,
    tracking_number,
    carrier,
    processed,
    processed_at,
    is_active,
    created_at,
    legacy_record_id,
    metadata
from mapped
where _apply
