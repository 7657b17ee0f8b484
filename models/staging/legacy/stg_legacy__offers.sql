with

source as (
    select * from {{ source('legacy', 'dispatch_offer') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_offer_id,
        doctor_id as legacy_doctor_user_id,
        product_id as legacy_product_id,

        ---------- numerics
        price_both,
        price_upper,
        price_lower,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
