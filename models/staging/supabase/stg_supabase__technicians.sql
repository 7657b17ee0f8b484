with

source as (
    select * from {{ source('supabase', 'technicians') }}
),

renamed as (
    select
        id as technician_id,
        profile_id,
        legacy_user_id,
        employee_id,
        status::text as status,
        is_active,
        hire_date,
        updated_at
    from source
)

select * from renamed
