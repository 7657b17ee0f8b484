{#- A plain projection (no joins, no CTE reading it twice), so PostgreSQL flattens it into the
    queries that read it and their filters reach the table's primary key. -#}
with

source as (
    select * from {{ source('diffmig', 'entity_rows') }}
)

select
    entity,
    legacy_key,
    target_id,
    first_run,
    last_run
from source
