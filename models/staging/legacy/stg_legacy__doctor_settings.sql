with

source as (
    select * from {{ source('legacy', 'dispatch_doctorsetting') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_doctor_setting_id,
        user_id as legacy_user_id,

        ---------- strings
        clinical_preferences,
        sq_customer_id as square_customer_id,

        ---------- numerics
        credit,
        installment_payments,

        ---------- booleans
        promised_payment as has_promised_payment,
        company_account as is_company_account,

        ---------- timestamps
        baa_agreed_at,
        eula_agreed_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
