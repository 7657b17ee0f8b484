with

source as (
    select * from {{ source('supabase', 'case_files') }}
),

renamed as (
    select
        ---------- keys
        id as case_file_id,

        ---------- foreign keys
        case_id,
        file_id,

        ---------- mapped columns
        file_purpose,
        display_order
    from source
)

select * from renamed
