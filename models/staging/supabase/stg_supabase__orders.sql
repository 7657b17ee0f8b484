with

source as (
    select * from {{ source('supabase', 'orders') }}
),

renamed as (
    select
        ---------- keys
        id as order_id,
        legacy_instruction_id,

        ---------- foreign keys
        patient_id,
        doctor_id,
        office_id,

        ---------- mapped columns
        order_number,
        course_type::text as course_type,
        status::text as status,
        notes,
        complaint,
        amount,
        submitted_at,
        approved_at,
        shipped_at,
        deleted,
        deleted_at,
        exports,
        suffix
    from source
    where legacy_instruction_id is not null
)

select * from renamed
