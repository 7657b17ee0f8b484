{{
    config(
        unique_key='legacy_template_id',
        tags=['templates'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('templates', 'dispatch_template', ref('int_templates_mapped')) }}"],
    )
}}

{{ mart_rows() }}
