with

source as (
    select * from {{ source('supabase', 'jaws') }}
),

renamed as (
    select
        ---------- keys
        id as jaw_id,
        legacy_jaw_id,

        ---------- foreign keys
        order_id,
        product_id,

        ---------- mapped columns
        jaw_type::text as jaw_type,
        labial,
        bond_teeth,
        extract_teeth,
        replacement_reason
    from source
    where legacy_jaw_id is not null
)

select * from renamed
