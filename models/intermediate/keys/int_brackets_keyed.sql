{{ resolve_legacy_keys(
    entity='brackets',
    legacy_keys='select legacy_bracket_id as legacy_key from ' ~ ref('stg_legacy__brackets'),
    targets='select legacy_bracket_id as legacy_key, bracket_id as target_id from '
        ~ ref('stg_supabase__brackets'),
    mapping_types=['bracket'],
) }}
