with

source as (
    select * from {{ source('legacy', 'dispatch_discount') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_discount_id,
        offer_id as legacy_offer_id,

        ---------- strings
        reason,

        ---------- numerics
        percent as percent_value,
        count as max_uses,
        used as used_count,

        ---------- booleans
        total as is_total,

        ---------- dates
        start as starts_on,
        finish as ends_on,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
