with

source as (
    select * from {{ source('supabase', 'templates') }}
),

renamed as (
    select
        id as template_id,
        legacy_template_id,
        name,
        action_name,
        category_id,
        estimated_duration_minutes,
        is_active
    from source
    where legacy_template_id is not null
)

select * from renamed
