{{
    config(
        unique_key=['template_id', 'role_id'],
        tags=['template_view_roles'],
        post_hook=["{{ record_row_issues('template_view_roles', 'dispatch_template_view_roles', ref('int_template_view_roles_mapped')) }}"],
    )
}}

{{ mart_rows() }}
