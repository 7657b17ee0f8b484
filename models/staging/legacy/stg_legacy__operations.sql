with

source as (
    select * from {{ source('legacy', 'dispatch_operation') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_operation_id,
        payment_id as legacy_payment_id,

        ---------- strings
        sq_order_id as square_order_id,
        sq_payment_id as square_payment_id,
        sq_refund_id as square_refund_id,
        card_brand,
        card_bin,
        card_last,

        ---------- numerics
        type as type_code,
        price,
        attempts,

        ---------- booleans
        office_card as is_office_card,

        ---------- timestamps
        made_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
