with

source as (
    select * from {{ source('legacy', 'dispatch_bracket') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_bracket_id,
        project_id as legacy_project_id,

        ---------- strings
        name as bracket_name,
        type as bracket_type_text,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
