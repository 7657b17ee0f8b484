{{ resolve_legacy_keys(
    entity='offices',
    legacy_keys='select legacy_office_id as legacy_key from ' ~ ref('stg_legacy__offices'),
    targets='select legacy_office_id as legacy_key, office_id as target_id from '
        ~ ref('stg_supabase__offices'),
    mapping_types=['office'],
) }}
