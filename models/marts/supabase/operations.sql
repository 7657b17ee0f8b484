{{
    config(
        unique_key='legacy_operation_id',
        tags=['operations'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('operations', 'dispatch_operation', ref('int_operations_mapped')) }}"],
    )
}}

{{ mart_rows() }}
