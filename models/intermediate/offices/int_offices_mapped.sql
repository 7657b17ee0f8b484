{#- Offices mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the offices changed since the last applied run, those with open
    issues, and target offices whose legacy row was deleted before diffmig first synced it (only
    their soft-delete column changes). -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('offices', 'stg_legacy__offices', 'legacy_office_id') }}

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(regexp_replace(btrim(considered.office_name), '\s+', ' ', 'g'), ''),
            'Office ' || considered.legacy_office_id
        ) as name,
        nullif(regexp_replace(btrim(considered.address), '\s+', ' ', 'g'), '') as address,
        nullif(btrim(considered.apartment), '') as apartment,
        nullif(regexp_replace(btrim(considered.city), '\s+', ' ', 'g'), '') as city,
        nullif(upper(btrim(considered.state)), '') as state,
        nullif(btrim(considered.zip_code), '') as zip_code,
        coalesce(country_aliases.country, nullif(btrim(considered.country), '')) as country,
        nullif(btrim(considered.phone), '') as phone,
        case
            when considered.tax_rate > 1 then round(considered.tax_rate / 100, 4)
            else considered.tax_rate
        end as tax_rate,
        nullif(btrim(considered.square_customer_id), '') as square_customer_id,
        considered.is_valid and not considered.is_deleted_in_source as is_active,
        considered.has_email_notifications as email_notifications,
        considered.legacy_office_id,
        case
            when considered.tax_rate > 1
                then jsonb_build_object(
                        'legacy', jsonb_build_object('tax_rate', considered.tax_rate)
                    )
            else '{}'::jsonb
        end as metadata,
        considered.tax_rate as _legacy_tax_rate,
        considered.office_name as _legacy_name,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join first_sync
    inner join keyed on considered.legacy_office_id = keyed.legacy_key
    left join country_aliases on lower(btrim(considered.country)) = country_aliases.alias
),

{{ entity_decision('offices', 'legacy_office_id',
    issues=[
        issue_when(numeric_overflows("compared.tax_rate", 5, 4), "error", "tax_rate_out_of_range",
            "'tax_rate ' || compared._legacy_tax_rate || ' does not fit numeric(5,4)'"),
        issue_when("compared._legacy_tax_rate > 1 and not " ~ numeric_overflows("compared.tax_rate", 5, 4),
            "warning", "tax_rate_was_percentage",
            "'tax_rate ' || compared._legacy_tax_rate || ' read as a percentage'"),
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
    ],
    gone=[
        'targets.tax_rate as _legacy_tax_rate',
        'targets.name as _legacy_name',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    applies=['checked._is_deleted_in_source'],
) }}
