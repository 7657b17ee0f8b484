{{
    config(
        unique_key='legacy_instruction_id',
        tags=['orders'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('orders', 'dispatch_instruction', ref('int_orders_mapped')) }}"],
    )
}}

{{ mart_rows() }}
