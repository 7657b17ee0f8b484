{{ resolve_legacy_keys(
    entity='operations',
    legacy_keys='select legacy_operation_id as legacy_key from ' ~ ref('stg_legacy__operations'),
    targets='select legacy_operation_id as legacy_key, operation_id as target_id from '
        ~ ref('stg_supabase__operations'),
    mapping_types=['operation'],
) }}
