with

source as (
    select * from {{ source('supabase', 'treatment_plans') }}
),

renamed as (
    select
        ---------- keys
        id as plan_id,
        legacy_plan_id,

        ---------- foreign keys
        project_id,
        order_id,
        patient_id,
        doctor_id,

        ---------- mapped columns
        plan_number,
        plan_name,
        plan_notes,
        is_original,
        legacy_instruction_id,

        ---------- which copy of a key is kept (the oldest)
        created_at
    from source
    where legacy_plan_id is not null
)

select * from renamed
