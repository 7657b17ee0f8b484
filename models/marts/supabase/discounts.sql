{{
    config(
        unique_key='legacy_discount_id',
        tags=['discounts'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('discounts', 'dispatch_discount', ref('int_discounts_mapped')) }}"],
    )
}}

{{ mart_rows() }}
