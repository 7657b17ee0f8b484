{{
    config(
        unique_key=['template_id', 'team_id'],
        tags=['template_view_groups'],
        post_hook=["{{ record_row_issues('template_view_groups', 'dispatch_template_view_groups', ref('int_template_view_groups_mapped')) }}"],
    )
}}

{{ mart_rows() }}
