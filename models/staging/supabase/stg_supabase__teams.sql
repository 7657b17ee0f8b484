with

source as (
    select * from {{ source('supabase', 'teams') }}
),

renamed as (
    select
        id as team_id,
        legacy_group_id,
        name
    from source
    where legacy_group_id is not null
)

select * from renamed
