{{
    config(
        unique_key='legacy_user_id',
        tags=['doctors'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('doctors', 'auth_user', ref('int_doctors_mapped')) }}"],
    )
}}

{{ mart_rows() }}
