{{ resolve_legacy_keys(
    entity='discounts',
    legacy_keys='select legacy_discount_id as legacy_key from ' ~ ref('stg_legacy__discounts'),
    targets='select legacy_discount_id as legacy_key, discount_id as target_id from '
        ~ ref('stg_supabase__discounts'),
    mapping_types=['discount'],
) }}
