with

source as (
    select * from {{ source('supabase', 'discounts') }}
),

renamed as (
    select
        ---------- keys
        id as discount_id,
        legacy_discount_id,

        ---------- foreign keys
        offer_id,

        ---------- mapped columns
        name,
        code,
        discount_type::text as discount_type,
        percentage,
        max_uses,
        current_uses,
        valid_from,
        valid_until,
        is_active,

        ---------- soft delete
        metadata -> 'legacy_deleted_at' as legacy_deleted_at
    from source
    where legacy_discount_id is not null
)

select * from renamed
