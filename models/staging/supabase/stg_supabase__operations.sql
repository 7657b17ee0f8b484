with

source as (
    select * from {{ source('supabase', 'operations') }}
),

renamed as (
    select
        ---------- keys
        id as operation_id,
        legacy_operation_id,

        ---------- foreign keys
        payment_id,
        case_id,

        ---------- mapped columns
        operation_type::text as operation_type,
        amount,
        status,
        operation_data,
        created_at,
        legacy_id
    from source
    where legacy_operation_id is not null
)

select * from renamed
