with

source as (
    select * from {{ source('supabase', 'projects') }}
),

renamed as (
    select
        ---------- keys
        id as project_id,
        legacy_project_id,

        ---------- foreign keys
        creator_id,

        ---------- mapped columns
        name,
        project_type::text as project_type,
        status::text as status,
        file_uid,
        file_size_bytes,
        is_public,

        ---------- soft delete
        metadata -> 'legacy_deleted_at' as legacy_deleted_at
    from source
    where legacy_project_id is not null
)

select * from renamed
