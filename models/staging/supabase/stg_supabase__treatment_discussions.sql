with

source as (
    select * from {{ source('supabase', 'treatment_discussions') }}
),

renamed as (
    select
        ---------- keys
        id as treatment_discussion_id,
        legacy_comment_id,

        ---------- foreign keys
        comment_id,
        treatment_plan_id,

        ---------- mapped columns
        is_visible_to_patient
    from source
    where legacy_comment_id is not null
)

select * from renamed
