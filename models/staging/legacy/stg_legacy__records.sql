with

source as (
    select * from {{ source('legacy', 'dispatch_record') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_record_id,
        target_type_id as legacy_target_type_id,
        target_id as legacy_target_id,
        author_id as legacy_author_user_id,
        group_id as legacy_group_id,

        ---------- strings
        text as record_text,

        ---------- codes
        type as type_code,

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
