with

source as (
    select * from {{ source('diffmig', 'filled_entities') }}
)

select
    entity,
    run_id
from source
