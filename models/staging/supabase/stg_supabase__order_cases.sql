with

source as (
    select * from {{ source('supabase', 'order_cases') }}
),

renamed as (
    select
        ---------- keys
        id as order_case_id,

        ---------- foreign keys
        order_id,
        case_id,

        ---------- mapped columns
        relationship_type,
        is_active
    from source
)

select * from renamed
