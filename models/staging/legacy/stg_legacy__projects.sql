with

source as (
    select * from {{ source('legacy', 'dispatch_project') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_project_id,
        creator_id as legacy_creator_user_id,

        ---------- strings
        uid as file_uid,
        name as project_name,

        ---------- numerics
        size as size_bytes,

        ---------- codes
        type as type_code,
        status as status_code,

        ---------- booleans
        public as is_public,

        ---------- timestamps
        created_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
