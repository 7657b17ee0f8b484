{{ resolve_legacy_keys(
    entity='payments',
    legacy_keys='select legacy_payment_id::bigint as legacy_key from ' ~ ref('stg_legacy__payments'),
    targets='select legacy_payment_id as legacy_key, payment_id as target_id from '
        ~ ref('stg_supabase__payments'),
    mapping_types=[],
) }}
