{{
    config(
        unique_key='legacy_message_id',
        tags=['case_messages'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('case_messages', 'dispatch_comment', ref('int_case_messages_mapped')) }}"],
    )
}}

{{ mart_rows() }}
