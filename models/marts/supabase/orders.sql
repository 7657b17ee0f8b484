{{
    config(
        unique_key='legacy_instruction_id',
        tags=['orders'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('orders', 'dispatch_instruction', ref('int_orders_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_orders_mapped') }}
)

select
    id,
    order_number,
    patient_id,
    doctor_id,
    office_id,
    cast(course_type as public.course_type) as course_type,
    cast(status as public.order_status) as status,
    notes,
    complaint,
    amount,
    submitted_at,
    approved_at,
    shipped_at,
    deleted,
    deleted_at,
    exports,
    suffix,
    legacy_instruction_id,
    metadata
from mapped
where _apply
