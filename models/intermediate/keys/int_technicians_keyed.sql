{#- Legacy keys: the users typed technician (and, through resolve_legacy_keys, every target
    technician's legacy_user_id). -#}
{{ resolve_legacy_keys(
    entity='technicians',
    legacy_keys='select legacy_user_id::bigint as legacy_key from ' ~ ref('int_profiles_typed')
        ~ " where profile_type = 'technician'",
    targets='select legacy_user_id::bigint as legacy_key, technician_id as target_id from '
        ~ ref('stg_supabase__technicians') ~ ' where legacy_user_id is not null',
) }}
