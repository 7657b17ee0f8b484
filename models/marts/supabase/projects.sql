{{
    config(
        unique_key='legacy_project_id',
        tags=['projects'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('projects', 'dispatch_project', ref('int_projects_mapped')) }}"],
    )
}}

{{ mart_rows() }}
