with

source as (
    select * from {{ source('legacy', 'dispatch_template') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_template_id,
        category_id as legacy_category_id,

        ---------- strings
        task_name,
        text_name,
        action_name,
        alerts,

        ---------- codes
        status as status_code,
        function as function_code,

        ---------- numerics
        duration,

        ---------- json
        extensions as extensions_text,
        {{ safe_jsonb('extensions') }} as extensions,
        {{ json_is_invalid('extensions') }} as is_extensions_invalid,

        ---------- booleans
        predefined as is_predefined,
        read_only as is_read_only,
        separate as is_separate,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
