{{
    config(
        unique_key='legacy_category_id',
        tags=['categories'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('categories', 'dispatch_category', ref('int_categories_mapped')) }}"],
    )
}}

{{ mart_rows() }}
