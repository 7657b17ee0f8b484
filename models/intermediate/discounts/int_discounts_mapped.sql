{#- Discounts mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. The offer is read through the offers mart (built first) and is required: a
    discount whose offer is gone from the legacy database is held back with a warning, one whose
    offer is not migrated waits for it (error, retried). name is the reason, else
    'Discount <percent>%'; code 'LEGACY<id>'; a percentage beyond 0 to 100, or a window ending
    before it starts, is copied as it is with a warning (one that does not fit numeric(5,2) is
    held back). A discount deleted in the legacy database becomes is_active = false with
    metadata.legacy_deleted_at (world.md 8.5). Considers the discounts synced since the last
    applied run, those with open errors, and target discounts whose legacy row was deleted
    before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('discounts', 'stg_legacy__discounts', 'legacy_discount_id') }}

legacy_offers as (
    select * from {{ ref('stg_legacy__offers') }}
),

offers as (
    select
        id as offer_id,
        legacy_offer_id
    from {{ ref('offers') }}
    where legacy_offer_id is not null
),

mapped as (
    select
        keyed.target_id as id,
        offers.offer_id,
        coalesce(
            nullif(btrim(considered.reason), ''), 'Discount ' || considered.percent_value || '%'
        ) as name,
        'LEGACY' || considered.legacy_discount_id as code,
        'percentage' as discount_type,
        case
            when not {{ numeric_overflows('considered.percent_value', 5, 2) }}
                then considered.percent_value::numeric(5, 2)
        end as percentage,
        considered.max_uses,
        coalesce(considered.used_count, 0) as current_uses,
        considered.starts_on as valid_from,
        considered.ends_on as valid_until,
        not considered.is_deleted_in_source as is_active,
        considered.legacy_discount_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'offer_id', considered.legacy_offer_id,
            'total', considered.is_total
        ))
        || case
            when considered.is_deleted_in_source
                then jsonb_build_object('legacy_deleted_at', considered.source_deleted_at)
            else '{}'::jsonb
        end as metadata,
        considered.reason as _legacy_reason,
        considered.percent_value as _legacy_percent,
        considered.legacy_offer_id as _legacy_offer_id,
        legacy_offers.legacy_offer_id is not null
        and not legacy_offers.is_deleted_in_source as _is_offer_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_discount_id = keyed.legacy_key
    cross join first_sync
    left join legacy_offers on considered.legacy_offer_id = legacy_offers.legacy_offer_id
    left join offers on considered.legacy_offer_id = offers.legacy_offer_id
),

{{ entity_decision('discounts', 'legacy_discount_id',
    issues=[
        issue_when("compared.offer_id is null and not compared._is_offer_in_source"
            ~ " and not compared._is_deleted_in_source",
            "warning", "offer_missing",
            "format('offer %s does not exist in the legacy database and has no offers row: held back', compared._legacy_offer_id)"),
        missing_parent_issue('discounts', 'offer_id', "offer_not_migrated",
            "compared.offer_id is null and compared._is_offer_in_source"
            ~ " and not compared._is_deleted_in_source",
            "format('offer %s is not in offers (held back or not yet migrated)', compared._legacy_offer_id)"),
        issue_when(numeric_overflows("compared._legacy_percent", 5, 2), "error",
            "percentage_out_of_range",
            "format('percent %s does not fit numeric(5,2)', compared._legacy_percent)"),
        issue_when("compared._legacy_percent not between 0 and 100 and not "
            ~ numeric_overflows("compared._legacy_percent", 5, 2),
            "warning", "percentage_outside_0_100",
            "format('percent %s is outside 0 to 100: copied as it is', compared._legacy_percent)"),
        issue_when("compared.valid_until < compared.valid_from", "warning", "ends_before_start",
            "format('finish %s is before start %s: copied as they are', compared.valid_until, compared.valid_from)"),
        issue_when("nullif(btrim(compared._legacy_reason), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
    ],
    gone=[
        'targets.name as _legacy_reason',
        'null::integer as _legacy_percent',
        'null::integer as _legacy_offer_id',
        'false as _is_offer_in_source',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='targets.is_active is distinct from false or ' ~ not_applied(),
    compared_columns=['targets.discount_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source',
    applies=['checked._is_deleted_in_source'],
    conditions=['(checked.offer_id is not null or checked._is_deleted_in_source)'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
