with

source as (
    select * from {{ source('supabase', 'offices') }}
),

renamed as (
    select
        id as office_id,
        legacy_office_id,
        name,
        address,
        apartment,
        city,
        state,
        zip_code,
        country,
        phone,
        tax_rate,
        square_customer_id,
        is_active,
        email_notifications
    from source
    where legacy_office_id is not null
)

select * from renamed
