{{
    config(
        unique_key=['order_id', 'case_id'],
        tags=['order_cases'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('order_cases', 'dispatch_instruction', ref('int_order_cases_mapped')) }}"],
    )
}}

{{ mart_rows() }}
