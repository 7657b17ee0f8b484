{{
    config(
        unique_key='legacy_state_id',
        tags=['order_states'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('order_states', 'dispatch_state', ref('int_order_states_mapped')) }}"],
    )
}}

{{ mart_rows() }}
