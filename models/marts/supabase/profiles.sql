{{
    config(
        unique_key='legacy_user_id',
        tags=['profiles'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('profiles', 'auth_user', ref('int_profiles_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_profiles_mapped') }}
)

select
    id,
    cast(profile_type as public.profile_type) as profile_type,
    first_name,
    last_name,
    email,
    phone,
    date_of_birth,
    cast(gender as public.gender) as gender,
    username,
    password_hash,
    is_active,
    archived,
    suspended,
    patient_suffix,
    last_login_at,
    legacy_user_id,
    legacy_patient_id,
    created_at,
    metadata
from mapped
where _apply
