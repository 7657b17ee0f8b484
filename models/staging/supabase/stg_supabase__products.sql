with

source as (
    select * from {{ source('supabase', 'products') }}
),

renamed as (
    select
        ---------- keys
        id as product_id,
        legacy_product_id,

        ---------- mapped columns
        name,
        course_type::text as course_type,
        description,
        is_active,
        customization
    from source
    where legacy_product_id is not null
)

select * from renamed
