{#- pre_hook: JIT-compiling this model's wide expressions (issues, drift) costs seconds, far
    more than the queries themselves; `set local` turns it off for the model's transaction (the
    upsert and the record_row_issues post-hook included). -#}
{{
    config(
        unique_key=['case_id', 'file_id'],
        tags=['case_files'],
        merge_jsonb_columns=['metadata'],
        pre_hook=["set local jit = off"],
        post_hook=["{{ record_row_issues('case_files', 'dispatch_file', ref('int_case_files_mapped')) }}"],
    )
}}

{{ mart_rows() }}
