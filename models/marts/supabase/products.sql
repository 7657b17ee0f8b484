{{
    config(
        unique_key='legacy_product_id',
        tags=['products'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('products', 'dispatch_product', ref('int_products_mapped')) }}"],
    )
}}

{{ mart_rows() }}
