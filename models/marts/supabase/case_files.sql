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
