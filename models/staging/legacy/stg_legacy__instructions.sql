with

source as (
    select * from {{ source('legacy', 'dispatch_instruction') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_instruction_id,
        patient_id as legacy_patient_id,
        course_id as legacy_course_id,
        lower_jaw_id as legacy_lower_jaw_id,
        upper_jaw_id as legacy_upper_jaw_id,

        ---------- strings
        suffix,
        objective,
        conditions,
        scanner_notes,
        notes,
        complaint,

        ---------- codes
        status as status_code,
        model as model_code,
        scanner as scanner_code,
        "order" as order_code,

        ---------- numerics
        price,

        ---------- json
        exports as exports_text,
        {{ safe_jsonb('exports') }} as exports,
        {{ json_is_invalid('exports') }} as is_exports_invalid,

        ---------- booleans
        deleted as is_deleted,
        cbct as has_cbct,
        comprehensive as is_comprehensive,
        accept_extraction as accepts_extraction,

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
