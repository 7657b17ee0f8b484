{{
    config(
        unique_key='legacy_record_id',
        tags=['messages'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('messages', 'dispatch_record', ref('int_messages_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_messages_mapped') }}
)

select
    id,
    message_type,
    content,
    sender_id,
    recipient_type,
    recipient_id,
    created_at,
    legacy_record_id,
    metadata
from mapped
where _apply
