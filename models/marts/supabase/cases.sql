{{
    config(
        unique_key='legacy_patient_id',
        tags=['cases'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('cases', 'dispatch_patient', ref('int_cases_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_cases_mapped') }}
)

select
    id,
    patient_id,
    primary_doctor_id,
    office_id,
    case_number,
    cast(status as public.case_status) as status,
    deleted,
    legacy_patient_id,
    metadata
from mapped
where _apply
