{{ resolve_legacy_keys(
    entity='offers',
    legacy_keys='select legacy_offer_id as legacy_key from ' ~ ref('stg_legacy__offers'),
    targets='select legacy_offer_id as legacy_key, offer_id as target_id from '
        ~ ref('stg_supabase__offers'),
    mapping_types=['offer'],
) }}
