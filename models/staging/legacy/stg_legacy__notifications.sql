with

source as (
    select * from {{ source('legacy', 'dispatch_notification') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_notification_id,
        recipient_id as legacy_recipient_user_id,
        item_type_id as legacy_item_type_id,
        item_id as legacy_item_id,

        ---------- strings
        sender,
        template_name,

        ---------- json
        template_context as template_context_text,
        {{ safe_jsonb('template_context') }} as template_context,
        {{ json_is_invalid('template_context') }} as is_template_context_invalid,

        ---------- booleans
        read as is_read,
        send as is_to_send,
        sent as is_sent,

        ---------- timestamps
        created_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
