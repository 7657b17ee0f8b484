with

source as (
    select * from {{ source('supabase', 'profiles') }}
),

renamed as (
    select
        id as profile_id,
        legacy_user_id,
        legacy_patient_id,
        profile_type::text as profile_type,
        first_name,
        last_name,
        email,
        phone,
        date_of_birth,
        gender::text as gender,
        username,
        password_hash,
        is_active,
        archived,
        suspended,
        patient_suffix,
        last_login_at,
        created_at,
        updated_at
    from source
    where legacy_user_id is not null
)

select * from renamed
