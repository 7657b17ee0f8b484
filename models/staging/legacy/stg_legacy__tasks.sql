with

source as (
    select * from {{ source('legacy', 'dispatch_task') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_task_id,
        instruction_id as legacy_instruction_id,
        template_id as legacy_template_id,
        actor_id as legacy_actor_id,
        plan_id as legacy_plan_id,
        file_id as legacy_file_id,
        order_id as legacy_order_number,

        ---------- strings
        text as task_text,

        ---------- numerics
        jaw,

        ---------- booleans
        checked as is_checked,

        ---------- timestamps
        done_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
