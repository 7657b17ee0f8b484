with

source as (
    select * from {{ source('legacy', 'dispatch_file') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_file_id,
        instruction_id as legacy_instruction_id,
        product_id as legacy_product_id,
        record_id as legacy_record_id,

        ---------- strings
        uid as file_uid,
        name as file_name,
        ext as file_ext,
        description,

        ---------- codes
        type as file_type_code,
        status as status_code,

        ---------- numerics
        size as size_bytes,

        ---------- json
        parameters as parameters_text,
        {{ safe_jsonb('parameters') }} as parameters,  -- noqa: RF04
        {{ json_is_invalid('parameters') }} as is_parameters_invalid,

        ---------- timestamps
        created_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
