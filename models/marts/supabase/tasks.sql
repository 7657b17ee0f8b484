{#- pre_hook: JIT-compiling this model's wide expressions (issues, drift) costs seconds, more than
    a delta's queries themselves; `set local` turns it off for the model's transaction (the
    upsert and the record_row_issues post-hook included). -#}
{{
    config(
        unique_key='legacy_task_id',
        tags=['tasks'],
        merge_jsonb_columns=['metadata'],
        pre_hook=["set local jit = off"],
        post_hook=["{{ record_row_issues('tasks', 'dispatch_task', ref('int_tasks_mapped')) }}"],
    )
}}

{{ mart_rows() }}
