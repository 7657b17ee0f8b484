with

source as (
    select * from {{ source('legacy', 'auth_user') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_user_id,

        ---------- strings
        username,
        first_name,
        last_name,
        email,
        password as password_hash,

        ---------- booleans
        is_superuser,
        is_staff,
        is_active,

        ---------- timestamps
        last_login as last_login_at,
        date_joined as joined_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
