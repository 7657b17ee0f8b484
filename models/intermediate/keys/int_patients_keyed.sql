{{ resolve_legacy_keys(
    entity='patients',
    legacy_keys='select legacy_patient_id::bigint as legacy_key from ' ~ ref('stg_legacy__patients'),
    targets='select legacy_patient_id as legacy_key, patient_id as target_id from '
        ~ ref('stg_supabase__patients'),
    mapping_types=['patient'],
) }}
