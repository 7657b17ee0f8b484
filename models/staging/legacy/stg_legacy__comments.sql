with

source as (
    select * from {{ source('legacy', 'dispatch_comment') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_comment_id,
        author_id as legacy_author_id,
        plan_id as legacy_plan_id,

        ---------- strings
        text as comment_text,

        ---------- timestamps
        created_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
