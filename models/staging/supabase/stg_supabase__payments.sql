with

source as (
    select * from {{ source('supabase', 'payments') }}
),

renamed as (
    select
        ---------- keys
        id as payment_id,
        legacy_payment_id,

        ---------- foreign keys
        order_id,

        ---------- mapped columns
        amount,
        currency,
        status::text as status,
        payment_method,
        processed_at
    from source
    where legacy_payment_id is not null
)

select * from renamed
