{#- Legacy keys: every staged user, and every target profile's legacy_user_id (a user deleted
    before diffmig first synced has a target row and no staged row). -#}
{{ resolve_legacy_keys(
    entity='profiles',
    legacy_keys='select legacy_user_id::bigint as legacy_key from ' ~ ref('stg_legacy__users')
        ~ ' union select legacy_user_id::bigint from ' ~ ref('stg_supabase__profiles'),
    targets='select legacy_user_id::bigint as legacy_key, profile_id as target_id from '
        ~ ref('stg_supabase__profiles'),
    mapping_types=['profile'],
) }}
