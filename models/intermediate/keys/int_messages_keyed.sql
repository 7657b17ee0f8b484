{{ resolve_legacy_keys(
    entity='messages',
    legacy_keys='select legacy_record_id::bigint as legacy_key from ' ~ ref('stg_legacy__records'),
    targets='select legacy_record_id as legacy_key, message_id as target_id from '
        ~ ref('stg_supabase__messages'),
    mapping_types=[],
) }}
