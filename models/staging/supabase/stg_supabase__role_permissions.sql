with

source as (
    select * from {{ source('supabase', 'role_permissions') }}
),

renamed as (
    select
        id as role_permission_id,
        legacy_id,
        role_id,
        permission,
        resource,
        is_active
    from source
    where legacy_id is not null
)

select * from renamed
