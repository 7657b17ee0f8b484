{{ resolve_legacy_keys(
    entity='profiles',
    legacy_keys='select legacy_user_id::bigint as legacy_key from ' ~ ref('stg_legacy__users'),
    targets='select legacy_user_id::bigint as legacy_key, profile_id as target_id from '
        ~ ref('stg_supabase__profiles'),
    mapping_types=['profile'],
) }}
