{{
    config(
        unique_key='legacy_jaw_id',
        tags=['jaws'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('jaws', 'dispatch_jaw', ref('int_jaws_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_jaws_mapped') }}
)

select
    id,
    order_id,
    product_id,
    cast(jaw_type as public.jaw_type) as jaw_type,
    labial,
    bond_teeth,
    extract_teeth,
    replacement_reason,
    legacy_jaw_id,
    metadata
from mapped
where _apply
