{#- The legacy keys are the notifications that become system messages (send and sent true, the
    declared filter), plus any notification that already has a target row (its UUID is kept even
    if the row no longer passes the filter). -#}
{{ resolve_legacy_keys(
    entity='system_messages',
    legacy_keys='select notifications.legacy_notification_id::bigint as legacy_key from '
        ~ ref('stg_legacy__notifications') ~ ' as notifications'
        ~ ' left join ' ~ ref('stg_supabase__system_messages') ~ ' as existing'
        ~ ' on notifications.legacy_notification_id = existing.legacy_record_id'
        ~ ' where (notifications.is_to_send and notifications.is_sent)'
        ~ ' or existing.system_message_id is not null',
    targets='select legacy_record_id as legacy_key, system_message_id as target_id from '
        ~ ref('stg_supabase__system_messages'),
    mapping_types=[],
) }}
