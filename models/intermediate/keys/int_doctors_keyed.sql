{#- Legacy keys: the users typed doctor (and, through resolve_legacy_keys, every target doctor's
    legacy_user_id). -#}
{{ resolve_legacy_keys(
    entity='doctors',
    legacy_keys='select legacy_user_id::bigint as legacy_key from ' ~ ref('int_profiles_typed')
        ~ " where profile_type = 'doctor'",
    targets='select legacy_user_id::bigint as legacy_key, doctor_id as target_id from '
        ~ ref('stg_supabase__doctors') ~ ' where legacy_user_id is not null',
    mapping_types=['doctor'],
) }}
