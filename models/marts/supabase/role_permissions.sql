{{
    config(
        unique_key='legacy_id',
        tags=['role_permissions'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('role_permissions', 'dispatch_role_permissions', ref('int_role_permissions_mapped')) }}"],
    )
}}

{{ mart_rows() }}
