with

source as (
    select * from {{ source('legacy', 'dispatch_patient') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_patient_id,
        user_id as legacy_user_id,
        doctor_id as legacy_doctor_user_id,
        office_id as legacy_office_id,

        ---------- strings
        suffix,

        ---------- codes
        sex as sex_code,
        status as status_code,

        ---------- json
        schemes as schemes_text,
        {{ safe_jsonb('schemes') }} as schemes,
        {{ json_is_invalid('schemes') }} as is_schemes_invalid,

        ---------- booleans
        archived as is_archived,
        suspended as is_suspended,

        ---------- dates
        birthdate as birth_date,

        ---------- timestamps
        submitted_at,
        updated_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
