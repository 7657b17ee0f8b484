{{
    config(
        unique_key='legacy_payment_id',
        tags=['payments'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('payments', 'dispatch_payment', ref('int_payments_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_payments_mapped') }}
)

select
    id,
    order_id,
    amount,
    cast(status as public.payment_status) as status,
    payment_method,
    processed_at,
    legacy_payment_id,
    metadata
from mapped
where _apply
