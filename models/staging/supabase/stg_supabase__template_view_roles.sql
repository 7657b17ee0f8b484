with

source as (
    select * from {{ source('supabase', 'template_view_roles') }}
),

renamed as (
    select
        id as junction_id,
        template_id,
        role_id,
        legacy_id,
        is_active
    from source
)

select * from renamed
