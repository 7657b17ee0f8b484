{#- pre_hook: JIT-compiling this model's wide expressions (issues, drift) costs seconds, far
    more than the queries themselves; `set local` turns it off for the model's transaction (the
    upsert and the record_row_issues post-hook included). -#}
{{
    config(
        unique_key='legacy_record_id',
        tags=['system_messages'],
        merge_jsonb_columns=['metadata'],
        insert_only_columns=['created_at'],
        pre_hook=["set local jit = off"],
        post_hook=["{{ record_row_issues('system_messages', 'dispatch_notification', ref('int_system_messages_mapped')) }}"],
    )
}}

{{ mart_rows() }}
