{#- The comments of dispatch_comment only (stg_supabase__comments fixes legacy_table): their
    legacy_id is then the key. -#}
{{ resolve_legacy_keys(
    entity='comments',
    legacy_keys='select legacy_comment_id as legacy_key from ' ~ ref('stg_legacy__comments'),
    targets='select legacy_id as legacy_key, comment_id as target_id from '
        ~ ref('stg_supabase__comments'),
    mapping_types=['comment'],
) }}
