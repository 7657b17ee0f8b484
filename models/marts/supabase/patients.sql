{{
    config(
        unique_key='legacy_patient_id',
        tags=['patients'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('patients', 'dispatch_patient', ref('int_patients_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_patients_mapped') }}
)

select
    id,
    profile_id,
    patient_number,
    suffix,
    cast(sex as public.gender) as sex,
    date_of_birth,
    primary_doctor_id,
    assigned_office_id,
    cast(status as public.patient_status) as status,
    archived,
    suspended,
    schemes,
    enrolled_at,
    legacy_patient_id,
    legacy_user_id,
    legacy_doctor_id,
    metadata
from mapped
where _apply
