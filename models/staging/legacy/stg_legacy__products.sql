with

source as (
    select * from {{ source('legacy', 'dispatch_product') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_product_id,
        course_id as legacy_course_id,

        ---------- strings
        name as product_name,
        description,

        ---------- codes
        type as product_type_code,

        ---------- json
        customization as customization_text,
        {{ safe_jsonb('customization') }} as customization,
        {{ json_is_invalid('customization') }} as is_customization_invalid,

        ---------- booleans
        free as is_free,
        deleted as is_deleted,
        substitute as is_substitute,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
