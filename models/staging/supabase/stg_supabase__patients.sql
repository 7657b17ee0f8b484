with

source as (
    select * from {{ source('supabase', 'patients') }}
),

renamed as (
    select
        ---------- keys
        id as patient_id,
        legacy_patient_id,
        legacy_user_id,
        legacy_doctor_id,

        ---------- foreign keys
        profile_id,
        primary_doctor_id,
        assigned_office_id,

        ---------- mapped columns
        patient_number,
        suffix,
        sex::text as sex,
        date_of_birth,
        status::text as status,
        archived,
        suspended,
        schemes,
        enrolled_at
    from source
    where legacy_patient_id is not null
)

select * from renamed
