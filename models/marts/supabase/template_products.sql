{{
    config(
        unique_key=['template_id', 'product_id'],
        tags=['template_products'],
        post_hook=["{{ record_row_issues('template_products', 'dispatch_template_products', ref('int_template_products_mapped')) }}"],
    )
}}

{{ mart_rows() }}
