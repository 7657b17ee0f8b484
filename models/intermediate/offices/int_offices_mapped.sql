{#- Offices mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the offices changed since the last applied run, those with open
    issues, and target offices whose legacy row was deleted before diffmig first synced it (only
    their soft-delete column changes). -#}
{{ config(materialized='table', unlogged=true) }}

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
    select entity_rows.legacy_key
    from {{ source('diffmig', 'entity_rows') }} as entity_rows
    where entity_rows.entity = 'offices'
),

retried as (
    {{ open_issue_keys('offices') }}
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
        considered.is_deleted_in_source as _is_deleted_in_source
    from considered
    inner join keyed on considered.legacy_office_id = keyed.legacy_key
    left join country_aliases on lower(btrim(considered.country)) = country_aliases.alias
),

gone_before_first_sync as (
    select
        targets.office_id as id,
        targets.name,
        targets.address,
        targets.apartment,
        targets.city,
        targets.state,
        targets.zip_code,
        targets.country,
        targets.phone,
        targets.tax_rate,
        targets.square_customer_id,
        false as is_active,
        targets.email_notifications,
        targets.legacy_office_id,
        '{}'::jsonb as metadata,
        targets.tax_rate as _legacy_tax_rate,
        targets.name as _legacy_name,
        true as _is_deleted_in_source
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
        targets.office_id is not null and known.legacy_key is null as _written_by_earlier_scripts,
        array_remove(array[
            case when mapped.name is distinct from targets.name then 'name' end,
            case when mapped.address is distinct from targets.address then 'address' end,
            case when mapped.apartment is distinct from targets.apartment then 'apartment' end,
            case when mapped.city is distinct from targets.city then 'city' end,
            case when mapped.state is distinct from targets.state then 'state' end,
            case when mapped.zip_code is distinct from targets.zip_code then 'zip_code' end,
            case when mapped.country is distinct from targets.country then 'country' end,
            case when mapped.phone is distinct from targets.phone then 'phone' end,
            case when mapped.tax_rate is distinct from targets.tax_rate then 'tax_rate' end,
            case
                when mapped.square_customer_id is distinct from targets.square_customer_id
                    then 'square_customer_id'
            end,
            case when mapped.is_active is distinct from targets.is_active then 'is_active' end,
            case
                when mapped.email_notifications is distinct from targets.email_notifications
                    then 'email_notifications'
            end
        ], null) as _drift_columns
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
            issue_when("compared._written_by_earlier_scripts and cardinality(compared._drift_columns) > 0",
                "warning", "drift",
                "'earlier scripts'' row differs in: ' || array_to_string(compared._drift_columns, ', ')"),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        not checked._issues @> '[{"severity": "error"}]'
        and (
            not checked._written_by_earlier_scripts
            or cardinality(checked._drift_columns) = 0
            or checked._is_deleted_in_source
            or {{ var('reconcile', false) }}
        ) as _apply
    from checked
)

select * from decided
