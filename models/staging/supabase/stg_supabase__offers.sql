with

source as (
    select * from {{ source('supabase', 'offers') }}
),

renamed as (
    select
        ---------- keys
        id as offer_id,
        legacy_offer_id,

        ---------- foreign keys
        doctor_id,
        product_id,
        order_id,

        ---------- mapped columns
        price_both,
        price_upper,
        price_lower,
        offer_amount,
        description,
        is_active,

        ---------- soft delete
        metadata -> 'legacy_deleted_at' as legacy_deleted_at
    from source
    where legacy_offer_id is not null
)

select * from renamed
