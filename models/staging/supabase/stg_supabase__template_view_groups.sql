with

source as (
    select * from {{ source('supabase', 'template_view_groups') }}
),

renamed as (
    select
        id as junction_id,
        template_id,
        team_id,
        legacy_id,
        is_active
    from source
)

select * from renamed
