{{ resolve_legacy_keys(
    entity='categories',
    legacy_keys='select legacy_category_id as legacy_key from ' ~ ref('stg_legacy__categories'),
    targets='select legacy_category_id as legacy_key, category_id as target_id from '
        ~ ref('stg_supabase__categories'),
    mapping_types=['category'],
) }}
