{#- Offices mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the offices changed since the last applied run, those with open
    issues, and target offices whose legacy row was deleted before diffmig first synced it (only
    their soft-delete column changes). -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = ['checked._is_deleted_in_source'] -%}

with

staged as (
    select * from {{ ref('stg_legacy__offices') }}
),

keyed as (
    select * from {{ ref('int_offices_keyed') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

targets as (
    select * from {{ ref('stg_supabase__offices') }}
),

known as (
    {{ applied_keys('offices') }}
),

retried as (
    {{ open_issue_keys('offices') }}
),

first_sync as (
    {{ first_synced_run('staged') }}
),

considered as (
    select staged.*
    from staged
    where
        {{ changed_since('staged') }}
        or staged.legacy_office_id::text in (select retried.legacy_key from retried)
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

gone_before_first_sync as (
    select
        {{ gone_from_mirror_columns('offices', 'targets.office_id', helpers=[
            'targets.tax_rate as _legacy_tax_rate',
            'targets.name as _legacy_name',
            'true as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ]) }}
    from targets
    left join staged on targets.legacy_office_id = staged.legacy_office_id
    where staged.legacy_office_id is null
),

all_mapped as (
    select * from mapped
    union all
    select * from gone_before_first_sync
),

compared as (
    select
        mapped.*,
        {{ written_by_earlier_scripts('targets.office_id') }} as _written_by_earlier_scripts,
        {{ drift_columns('offices') }} as _drift_columns
    from all_mapped as mapped
    left join targets on mapped.legacy_office_id = targets.legacy_office_id
    left join known on mapped.legacy_office_id::text = known.legacy_key
),

checked as (
    select
        compared.*,
        compared.legacy_office_id::text as _legacy_key,
        {{ issues_array([
            issue_when(numeric_overflows("compared.tax_rate", 5, 4), "error", "tax_rate_out_of_range",
                "'tax_rate ' || compared._legacy_tax_rate || ' does not fit numeric(5,4)'"),
            issue_when("compared._legacy_tax_rate > 1 and not " ~ numeric_overflows("compared.tax_rate", 5, 4), "warning",
                "tax_rate_was_percentage",
                "'tax_rate ' || compared._legacy_tax_rate || ' read as a percentage'"),
            issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
                "'name set to ' || compared.name"),
            drift_issue(applies=drift_applies),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        {{ apply_decision(applies=drift_applies) }} as _apply
    from checked
)

select * from decided
