{{ resolve_legacy_keys(
    entity='roles',
    legacy_keys='select legacy_role_id as legacy_key from ' ~ ref('stg_legacy__roles'),
    targets='select legacy_id as legacy_key, role_id as target_id from '
        ~ ref('stg_supabase__roles'),
    mapping_types=['role'],
) }}
