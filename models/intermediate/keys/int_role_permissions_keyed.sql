{{ resolve_legacy_keys(
    entity='role_permissions',
    legacy_keys='select legacy_role_permission_id as legacy_key from ' ~ ref('stg_legacy__role_permissions'),
    targets='select legacy_id as legacy_key, role_permission_id as target_id from '
        ~ ref('stg_supabase__role_permissions'),
    mapping_types=['role_permission'],
) }}
