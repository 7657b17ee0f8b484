{{
    config(
        unique_key='legacy_office_id',
        tags=['offices'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('offices', 'dispatch_office', ref('int_offices_mapped')) }}"],
    )
}}

{{ mart_rows() }}
