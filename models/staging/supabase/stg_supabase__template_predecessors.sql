with

source as (
    select * from {{ source('supabase', 'template_predecessors') }}
),

renamed as (
    select
        id as junction_id,
        template_id,
        predecessor_id,
        legacy_id,
        is_active
    from source
)

select * from renamed
