{{
    config(
        unique_key='legacy_user_id',
        tags=['technicians'],
        post_hook=["{{ record_row_issues('technicians', 'auth_user', ref('int_technicians_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_technicians_mapped') }}
)

select
    id,
    profile_id,
    employee_id,
    cast(status as public.employment_status) as status,
    is_active,
    hire_date,
    legacy_user_id
from mapped
where _apply
