{#- Legacy keys: the users typed technician, and every target technician's legacy_user_id. -#}
{{ resolve_legacy_keys(
    entity='technicians',
    legacy_keys='select legacy_user_id::bigint as legacy_key from ' ~ ref('int_profiles_typed')
        ~ " where profile_type = 'technician' union select legacy_user_id::bigint from "
        ~ ref('stg_supabase__technicians') ~ ' where legacy_user_id is not null',
    targets='select legacy_user_id::bigint as legacy_key, technician_id as target_id from '
        ~ ref('stg_supabase__technicians') ~ ' where legacy_user_id is not null',
) }}
