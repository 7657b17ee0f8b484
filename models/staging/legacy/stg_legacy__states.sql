with

source as (
    select * from {{ source('legacy', 'dispatch_state') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_state_id,
        instruction_id as legacy_instruction_id,
        actor_id as legacy_actor_user_id,

        ---------- codes
        status as status_code,

        ---------- booleans
        "on" as is_on,

        ---------- timestamps
        changed_at,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
