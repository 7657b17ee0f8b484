{#- Doctor-office links mapped to the Supabase shape (world.md section 5), one per legacy
    (office_id, user_id) pair of dispatch_office_doctors. The doctor is found by legacy_user_id in
    doctors, the office by legacy_office_id in offices (both read through their marts, so they are
    built first); a current pair whose doctor or office is not migrated is held back (error). A
    pair deleted in the source, or a target link whose pair no longer exists (a doctor moved
    office), becomes is_active false. is_primary marks the doctor's first link (lowest
    dispatch_office_doctors id), the office doctors.primary_office_id points at. Considers the
    pairs of the doctors whose links changed since the last applied run, those with open errors,
    and active target links that have no legacy pair any more. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = ['checked._is_deleted_in_source'] -%}
{%- set junction = {'parents': {
    'office_id': 'target_offices.legacy_office_id',
    'doctor_id': 'target_doctors.legacy_user_id',
}} %}

{% call entity_inputs('doctor_offices', 'stg_legacy__office_doctors',
    ['legacy_office_id', 'legacy_user_id'], changes='pair_changes', junction=junction) %}
-- A doctor's links are mapped together (is_primary marks the first): a pair changed when a link
-- of its doctor did.
pair_changes as (
    select distinct
        staged.legacy_office_id,
        staged.legacy_user_id,
        max(staged.synced_run) over (partition by staged.legacy_user_id) as synced_run
    from staged
),
{% endcall %}

target_doctors as (
    select * from {{ ref('stg_supabase__doctors') }}
    where legacy_user_id is not null
),

target_offices as (
    select * from {{ ref('stg_supabase__offices') }}
),

doctors as (
    select
        id as doctor_id,
        legacy_user_id
    from {{ ref('doctors') }}
    where legacy_user_id is not null
),

offices as (
    select
        id as office_id,
        legacy_office_id
    from {{ ref('offices') }}
    where legacy_office_id is not null
),

first_links as (
    select distinct on (staged.legacy_user_id)
        staged.legacy_user_id,
        staged.legacy_office_doctor_id
    from staged
    where not staged.is_deleted_in_source
    order by staged.legacy_user_id, staged.legacy_office_doctor_id
),

-- One row per legacy pair: the current row if there is one, else the latest deleted one.
mapped as (
    select distinct on (considered.legacy_office_id, considered.legacy_user_id)
        coalesce(
            current_links.doctor_office_id,
            {{ legacy_uuid('doctor_offices',
                "considered.legacy_office_id || ':' || considered.legacy_user_id") }}
        ) as id,
        doctors.doctor_id,
        offices.office_id,
        not considered.is_deleted_in_source
        and coalesce(
            considered.legacy_office_doctor_id = first_links.legacy_office_doctor_id, false
        ) as is_primary,
        not considered.is_deleted_in_source as is_active,
        jsonb_build_object('legacy', jsonb_build_object(
            'office_doctors_id', considered.legacy_office_doctor_id,
            'office_id', considered.legacy_office_id,
            'user_id', considered.legacy_user_id
        )) as metadata,
        considered.legacy_office_id as _legacy_office_id,
        considered.legacy_user_id as _legacy_user_id,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.changed_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join first_sync
    left join doctors on considered.legacy_user_id = doctors.legacy_user_id
    left join offices on considered.legacy_office_id = offices.legacy_office_id
    left join first_links on considered.legacy_user_id = first_links.legacy_user_id
    left join targets as current_links
        on
            doctors.doctor_id = current_links.doctor_id
            and offices.office_id = current_links.office_id
    order by
        considered.legacy_office_id asc,
        considered.legacy_user_id asc,
        considered.is_deleted_in_source asc,
        considered.legacy_office_doctor_id desc
),

{# A target link with no legacy pair any more (its dispatch_office_doctors row was moved to
    another office, or was gone before diffmig first synced): made inactive and not primary, and
    considered until that is applied and recorded. A deleted pair that never reached the target
    has nothing to deactivate. -#}
{{ entity_decision('doctor_offices', ['_legacy_office_id', '_legacy_user_id'],
    issues=[
        issue_when("not compared._is_deleted_in_source and compared.doctor_id is null", "error",
            "doctor_not_migrated",
            "format('user %s has no doctors row (not a doctor profile, or held back)', compared._legacy_user_id)"),
        issue_when("not compared._is_deleted_in_source and compared.office_id is null", "error",
            "office_not_migrated",
            "format('office %s is not in offices', compared._legacy_office_id)"),
        issue_when("compared._is_duplicate_target_pair", "error", "duplicate_target_pair",
            "format('another legacy pair maps to the same doctor %s and office %s', compared.doctor_id, compared.office_id)"),
    ],
    gone=[
        'target_offices.legacy_office_id as _legacy_office_id',
        'target_doctors.legacy_user_id as _legacy_user_id',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='targets.is_active is distinct from false'
        ~ ' or targets.is_primary is distinct from false or ' ~ not_applied(),
    compared_columns=[
        "mapped.doctor_id is not null and mapped.office_id is not null and row_number() over ("
        ~ "partition by mapped.doctor_id, mapped.office_id order by mapped.is_active desc,"
        ~ " mapped._legacy_office_id || ':' || mapped._legacy_user_id asc) > 1"
        ~ " as _is_duplicate_target_pair",
    ],
    requires=['checked.doctor_id', 'checked.office_id'],
    applies=drift_applies,
    junction=junction,
) }}
