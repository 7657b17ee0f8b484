{{
    config(
        unique_key='legacy_user_id',
        tags=['doctors'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('doctors', 'auth_user', ref('int_doctors_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_doctors_mapped') }}
)

select
    id,
    profile_id,
    doctor_number,
    primary_office_id,
    cast(status as public.doctor_status) as status,
    joined_practice_at,
    legacy_user_id,
    metadata
from mapped
where _apply
