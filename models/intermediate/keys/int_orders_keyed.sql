{{ resolve_legacy_keys(
    entity='orders',
    legacy_keys='select legacy_instruction_id::bigint as legacy_key from ' ~ ref('stg_legacy__instructions'),
    targets='select legacy_instruction_id as legacy_key, order_id as target_id from '
        ~ ref('stg_supabase__orders'),
    mapping_types=['order'],
) }}
