{{
    config(
        unique_key='legacy_state_id',
        tags=['order_states'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('order_states', 'dispatch_state', ref('int_order_states_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_order_states_mapped') }}
)

select
    id,
    order_id,
    status_code,
    cast(status_name as varchar(100)) as status_name,
    is_active,
    changed_by,
    changed_at,
    legacy_state_id,
    legacy_instruction_id,
    metadata
from mapped
where _apply
