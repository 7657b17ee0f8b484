{{
    config(
        unique_key='legacy_comment_id',
        tags=['treatment_discussions'],
        post_hook=["{{ record_row_issues('treatment_discussions', 'dispatch_comment', ref('int_treatment_discussions_mapped')) }}"],
    )
}}

{{ mart_rows() }}
