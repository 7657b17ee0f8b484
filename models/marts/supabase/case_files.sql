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

with

mapped as (
    select * from {{ ref('int_case_files_mapped') }}
)

-- varchar columns cast to the app's exact type: a wider temp column would make dbt's incremental
-- materialization widen the app's column (longer values are held back by the mapping).
select
    id,
    case_id,
    file_id,
    cast(file_purpose as varchar(50)) as file_purpose,
    metadata
from mapped
where _apply
