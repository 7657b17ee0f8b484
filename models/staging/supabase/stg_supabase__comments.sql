with

source as (
    select * from {{ source('supabase', 'comments') }}
),

renamed as (
    select
        ---------- keys
        id as comment_id,
        legacy_id,

        ---------- foreign keys
        author_id,

        ---------- mapped columns
        content,
        comment_type::text as comment_type,
        created_at
    from source
    -- The comments of dispatch_comment: the table's unique key is (legacy_table, legacy_id), and
    -- other legacy tables (a later wave's notes) key their comments on their own ids.
    where legacy_table = 'dispatch_comment' and legacy_id is not null
)

select * from renamed
