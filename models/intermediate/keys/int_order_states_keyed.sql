{{ resolve_legacy_keys(
    entity='order_states',
    legacy_keys='select legacy_state_id::bigint as legacy_key from ' ~ ref('stg_legacy__states'),
    targets='select legacy_state_id as legacy_key, order_state_id as target_id from '
        ~ ref('stg_supabase__order_states'),
    mapping_types=[],
) }}
