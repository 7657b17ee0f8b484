with

source as (
    select * from {{ source('supabase', 'tasks') }}
),

renamed as (
    select
        ---------- keys
        id as task_id,
        legacy_task_id,

        ---------- foreign keys
        order_id,
        assigned_to,
        template_id,

        ---------- mapped columns
        template_name,
        description,
        jaw_specification,
        status::text as status,
        checked,
        completed_at
    from source
    where legacy_task_id is not null
)

select * from renamed
