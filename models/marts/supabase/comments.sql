{#- The unique key is the table's own, (legacy_table, legacy_id): the upsert conflicts on it. -#}
{{
    config(
        unique_key=['legacy_table', 'legacy_id'],
        tags=['comments'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('comments', 'dispatch_comment', ref('int_comments_mapped')) }}"],
    )
}}

{{ mart_rows() }}
