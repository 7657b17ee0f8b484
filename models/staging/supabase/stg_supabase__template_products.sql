with

source as (
    select * from {{ source('supabase', 'template_products') }}
),

renamed as (
    select
        id as junction_id,
        template_id,
        product_id,
        legacy_id,
        is_active
    from source
)

select * from renamed
