with

source as (
    select * from {{ source('legacy', 'dispatch_course') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_course_id,

        ---------- strings
        name as course_name,

        ---------- codes
        type as course_type_code,

        ---------- json
        customization as customization_text,
        {{ safe_jsonb('customization') }} as customization,
        {{ json_is_invalid('customization') }} as is_customization_invalid,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
