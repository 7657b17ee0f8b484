with

source as (
    select * from {{ source('supabase', 'categories') }}
),

renamed as (
    select
        id as category_id,
        legacy_category_id,
        name,
        parent_id,
        display_order
    from source
    where legacy_category_id is not null
)

select * from renamed
