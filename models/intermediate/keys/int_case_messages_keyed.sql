{#- A key with several target rows resolves to its kept one, the oldest (duplicate_targets). -#}
{{ resolve_legacy_keys(
    entity='case_messages',
    legacy_keys='select legacy_comment_id as legacy_key from ' ~ ref('stg_legacy__comments'),
    targets='select kept.legacy_message_id as legacy_key, kept.case_message_id as target_id from ('
        ~ kept_target_rows('case_messages', ref('stg_supabase__case_messages'), 'case_message_id')
        ~ ') as kept',
    mapping_types=['case_message'],
) }}
