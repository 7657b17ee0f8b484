with

source as (
    select * from {{ source('supabase', 'order_states') }}
),

renamed as (
    select
        ---------- keys
        id as order_state_id,
        legacy_state_id,
        legacy_instruction_id,

        ---------- foreign keys
        order_id,
        changed_by,

        ---------- mapped columns
        status_code,
        status_name,
        is_active,
        changed_at
    from source
    where legacy_state_id is not null
)

select * from renamed
