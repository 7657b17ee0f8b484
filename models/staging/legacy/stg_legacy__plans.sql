with

source as (
    select * from {{ source('legacy', 'dispatch_plan') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_plan_id,
        instruction_id as legacy_instruction_id,
        project_id as legacy_project_id,

        ---------- strings
        name as plan_name,
        notes,

        ---------- numerics
        number as plan_number,

        ---------- booleans
        original as is_original,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
