{{ resolve_legacy_keys(
    entity='jaws',
    legacy_keys='select legacy_jaw_id::bigint as legacy_key from ' ~ ref('stg_legacy__jaws'),
    targets='select legacy_jaw_id as legacy_key, jaw_id as target_id from '
        ~ ref('stg_supabase__jaws'),
    mapping_types=[],
) }}
