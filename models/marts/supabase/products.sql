{{
    config(
        unique_key='legacy_product_id',
        tags=['products'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('products', 'dispatch_product', ref('int_products_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_products_mapped') }}
)

select
    id,
    name,
    cast(course_type as public.course_type) as course_type,
    description,
    is_active,
    customization,
    legacy_product_id,
    metadata
from mapped
where _apply
