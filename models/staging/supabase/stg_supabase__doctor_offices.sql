with

source as (
    select * from {{ source('supabase', 'doctor_offices') }}
),

renamed as (
    select
        id as doctor_office_id,
        doctor_id,
        office_id,
        is_primary,
        is_active,
        updated_at
    from source
)

select * from renamed
