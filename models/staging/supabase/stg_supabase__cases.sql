with

source as (
    select * from {{ source('supabase', 'cases') }}
),

renamed as (
    select
        ---------- keys
        id as case_id,
        legacy_patient_id,

        ---------- foreign keys
        patient_id,
        primary_doctor_id,
        office_id,

        ---------- mapped columns
        case_number,
        status::text as status,
        deleted
    from source
    where legacy_patient_id is not null
)

select * from renamed
