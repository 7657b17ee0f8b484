with

source as (
    select * from {{ source('legacy', 'dispatch_jaw') }}
),

renamed as (
    select
        ---------- ids
        id as legacy_jaw_id,
        product_id as legacy_product_id,

        ---------- strings
        bond_teeth,
        extract_teeth,

        ---------- codes
        reason as reason_code,

        ---------- booleans
        labial as is_labial,

        ---------- sync bookkeeping
        _synced_run as synced_run,
        _deleted_at as source_deleted_at,
        _deleted_at is not null as is_deleted_in_source
    from source
)

select * from renamed
