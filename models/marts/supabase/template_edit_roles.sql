{{
    config(
        unique_key=['template_id', 'role_id'],
        tags=['template_edit_roles'],
        post_hook=["{{ record_row_issues('template_edit_roles', 'dispatch_template_edit_roles', ref('int_template_edit_roles_mapped')) }}"],
    )
}}

{{ mart_rows() }}
