{#- pre_hook: JIT-compiling this model's wide expressions (issues, drift) costs seconds, far
    more than the queries themselves; `set local` turns it off for the model's transaction (the
    upsert and the record_row_issues post-hook included). -#}
{{
    config(
        unique_key='legacy_file_id',
        tags=['files'],
        merge_jsonb_columns=['metadata'],
        pre_hook=["set local jit = off"],
        post_hook=["{{ record_row_issues('files', 'dispatch_file', ref('int_files_mapped')) }}"],
    )
}}

{{ mart_rows() }}
