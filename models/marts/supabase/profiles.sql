{{
    config(
        unique_key='legacy_user_id',
        tags=['profiles'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('profiles', 'auth_user', ref('int_profiles_mapped')) }}"],
    )
}}

{{ mart_rows() }}
