{{ resolve_legacy_keys(
    entity='projects',
    legacy_keys='select legacy_project_id as legacy_key from ' ~ ref('stg_legacy__projects'),
    targets='select legacy_project_id as legacy_key, project_id as target_id from '
        ~ ref('stg_supabase__projects'),
    mapping_types=['project'],
) }}
