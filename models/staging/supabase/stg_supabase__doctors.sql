with

source as (
    select * from {{ source('supabase', 'doctors') }}
),

renamed as (
    select
        id as doctor_id,
        profile_id,
        legacy_user_id,
        doctor_number,
        primary_office_id,
        status::text as status,
        joined_practice_at,
        updated_at
    from source
)

select * from renamed
