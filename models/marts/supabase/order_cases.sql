{{
    config(
        unique_key=['order_id', 'case_id'],
        tags=['order_cases'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('order_cases', 'dispatch_instruction', ref('int_order_cases_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_order_cases_mapped') }}
)

select
    id,
    order_id,
    case_id,
    cast(relationship_type as varchar(50)) as relationship_type,
    is_active,
    metadata
from mapped
where _apply
