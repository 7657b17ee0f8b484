{{ resolve_legacy_keys(
    entity='treatment_discussions',
    legacy_keys='select legacy_comment_id as legacy_key from ' ~ ref('stg_legacy__comments'),
    targets='select legacy_comment_id as legacy_key, treatment_discussion_id as target_id from '
        ~ ref('stg_supabase__treatment_discussions'),
    mapping_types=['treatment_discussion'],
) }}
