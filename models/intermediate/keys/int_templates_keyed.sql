{{ resolve_legacy_keys(
    entity='templates',
    legacy_keys='select legacy_template_id as legacy_key from ' ~ ref('stg_legacy__templates'),
    targets='select legacy_template_id as legacy_key, template_id as target_id from '
        ~ ref('stg_supabase__templates'),
    mapping_types=['template'],
) }}
