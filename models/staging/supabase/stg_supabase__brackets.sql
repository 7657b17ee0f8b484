with

source as (
    select * from {{ source('supabase', 'brackets') }}
),

renamed as (
    select
        ---------- keys
        id as bracket_id,
        legacy_bracket_id,

        ---------- foreign keys
        project_id,

        ---------- mapped columns
        name,
        bracket_type,
        active,
        legacy_project_id
    from source
    where legacy_bracket_id is not null
)

select * from renamed
