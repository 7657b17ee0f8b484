{#- A plain projection, so PostgreSQL flattens it into the queries that read it and their
    filters (entity, open, severity or reason) reach the table's partial indexes. -#}
with

source as (
    select * from {{ source('diffmig', 'row_issues') }}
)

select
    issue_id,
    run_id,
    entity,
    table_name,
    legacy_key,
    severity,
    reason,
    detail,
    first_seen_at,
    last_seen_at,
    resolved_at
from source
