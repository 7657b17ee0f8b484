{{ resolve_legacy_keys(
    entity='products',
    legacy_keys='select legacy_product_id::bigint as legacy_key from ' ~ ref('stg_legacy__products'),
    targets='select legacy_product_id as legacy_key, product_id as target_id from '
        ~ ref('stg_supabase__products'),
    mapping_types=[],
) }}
