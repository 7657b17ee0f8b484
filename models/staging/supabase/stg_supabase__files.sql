with

source as (
    select * from {{ source('supabase', 'files') }}
),

renamed as (
    select
        ---------- keys
        id as file_id,
        legacy_file_id,

        ---------- foreign keys
        order_id,
        uploaded_by,

        ---------- mapped columns
        file_uid,
        filename,
        file_type,
        file_size_bytes,
        mime_type,
        uploaded_at
    from source
    where legacy_file_id is not null
)

select * from renamed
