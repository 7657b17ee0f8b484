{{ resolve_legacy_keys(
    entity='cases',
    legacy_keys='select legacy_patient_id::bigint as legacy_key from ' ~ ref('stg_legacy__patients'),
    targets='select legacy_patient_id as legacy_key, case_id as target_id from '
        ~ ref('stg_supabase__cases'),
    mapping_types=[],
) }}
