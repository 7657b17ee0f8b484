with

source as (
    select * from {{ source('supabase', 'roles') }}
),

renamed as (
    select
        id as role_id,
        legacy_id,
        name,
        description,
        team_id,
        is_active
    from source
    where legacy_id is not null
)

select * from renamed
