{{
    config(
        unique_key='legacy_office_id',
        tags=['offices'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('offices', 'dispatch_office', ref('int_offices_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_offices_mapped') }}
)

select
    id,
    name,
    address,
    apartment,
    city,
    state,
    zip_code,
    country,
    phone,
    tax_rate,
    square_customer_id,
    is_active,
    email_notifications,
    legacy_office_id,
    metadata
from mapped
where _apply
