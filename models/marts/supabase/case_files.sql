{{
    config(
        unique_key=['case_id', 'file_id'],
        tags=['case_files'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('case_files', 'dispatch_file', ref('int_case_files_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_case_files_mapped') }}
)

select
    id,
    case_id,
    file_id,
    file_purpose,
    metadata
from mapped
where _apply
