{{
    config(
        unique_key='legacy_jaw_id',
        tags=['jaws'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('jaws', 'dispatch_jaw', ref('int_jaws_mapped')) }}"],
    )
}}

{{ mart_rows() }}
