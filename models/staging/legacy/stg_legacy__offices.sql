with

source as (
    select * from {{ source('legacy', 'dispatch_office') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_office_id,

        ---------- strings
        name as office_name,
        address,
        apt as apartment,
        city,
        state,
        zip as zip_code,
        phone,
        country,
        sq_customer_id as square_customer_id,

        ---------- numerics
        tax_rate,

        ---------- booleans
        valid as is_valid,
        emails as has_email_notifications,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
