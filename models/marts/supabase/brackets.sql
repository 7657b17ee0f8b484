{{
    config(
        unique_key='legacy_bracket_id',
        tags=['brackets'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('brackets', 'dispatch_bracket', ref('int_brackets_mapped')) }}"],
    )
}}

{{ mart_rows() }}
