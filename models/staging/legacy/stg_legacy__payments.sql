with

source as (
    select * from {{ source('legacy', 'dispatch_payment') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_payment_id,
        instruction_id as legacy_instruction_id,
        doctor_id as legacy_doctor_user_id,
        office_id as legacy_office_id,

        ---------- numerics
        tax_rate,
        tax_value,
        paid_price,
        used_credit,
        custom_price,
        subtotal_price,
        additional_price,
        total_price,

        ---------- json
        installments as installments_text,
        {{ safe_jsonb('installments') }} as installments,
        {{ json_is_invalid('installments') }} as is_installments_invalid,

        ---------- booleans
        free as is_free,
        canceled as is_canceled,
        paid as is_paid,
        netsuite as is_netsuite,

        ---------- timestamps
        made_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
