{{
    config(
        unique_key='legacy_id',
        tags=['roles'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('roles', 'dispatch_role', ref('int_roles_mapped')) }}"],
    )
}}

{{ mart_rows() }}
