{{ resolve_legacy_keys(
    entity='files',
    legacy_keys='select legacy_file_id::bigint as legacy_key from ' ~ ref('stg_legacy__files'),
    targets='select legacy_file_id as legacy_key, file_id as target_id from '
        ~ ref('stg_supabase__files'),
    mapping_types=[],
) }}
