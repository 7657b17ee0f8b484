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

with

office_doctors as (
    select * from {{ ref('stg_legacy__office_doctors') }}
),

targets as (
    select * from {{ ref('stg_supabase__doctor_offices') }}
),

target_doctors as (
    select * from {{ ref('stg_supabase__doctors') }}
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

known as (
    {{ applied_keys('doctor_offices') }}
),

retried as (
    {{ open_issue_keys('doctor_offices') }}
),

first_sync as (
    {{ first_synced_run('office_doctors') }}
),

-- One row per legacy pair: the current row if there is one, else the latest deleted one.
pairs as (
    select distinct on (office_doctors.legacy_office_id, office_doctors.legacy_user_id)
        office_doctors.*,
        office_doctors.legacy_office_id || ':' || office_doctors.legacy_user_id as pair_key
    from office_doctors
    order by
        office_doctors.legacy_office_id asc,
        office_doctors.legacy_user_id asc,
        office_doctors.is_deleted_in_source asc,
        office_doctors.legacy_office_doctor_id desc
),

first_links as (
    select distinct on (office_doctors.legacy_user_id)
        office_doctors.legacy_user_id,
        office_doctors.legacy_office_doctor_id
    from office_doctors
    where not office_doctors.is_deleted_in_source
    order by office_doctors.legacy_user_id, office_doctors.legacy_office_doctor_id
),

link_changes as (
    select
        office_doctors.legacy_user_id,
        max(office_doctors.synced_run) as synced_run
    from office_doctors
    group by office_doctors.legacy_user_id
),

-- Target links with the legacy pair they stand for.
target_pairs as (
    select
        targets.*,
        target_offices.legacy_office_id,
        target_doctors.legacy_user_id,
        target_offices.legacy_office_id || ':' || target_doctors.legacy_user_id as pair_key
    from targets
    inner join target_doctors on targets.doctor_id = target_doctors.doctor_id
    inner join target_offices on targets.office_id = target_offices.office_id
    where target_doctors.legacy_user_id is not null
),

considered as (
    select
        pairs.*,
        link_changes.synced_run as doctor_synced_run
    from pairs
    inner join link_changes on pairs.legacy_user_id = link_changes.legacy_user_id
    where
        {{ changed_since('link_changes') }}
        or pairs.pair_key in (select retried.legacy_key from retried)
),

mapped as (
    select
        coalesce(
            current_links.doctor_office_id,
            {{ legacy_uuid('doctor_offices', 'considered.pair_key') }}
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
        considered.pair_key as _legacy_key,
        considered.legacy_office_id as _legacy_office_id,
        considered.legacy_user_id as _legacy_user_id,
        false as _is_target_only,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.doctor_synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join first_sync
    left join doctors on considered.legacy_user_id = doctors.legacy_user_id
    left join offices on considered.legacy_office_id = offices.legacy_office_id
    left join first_links on considered.legacy_user_id = first_links.legacy_user_id
    left join targets as current_links
        on
            doctors.doctor_id = current_links.doctor_id
            and offices.office_id = current_links.office_id
),

-- A target link with no legacy pair any more (its dispatch_office_doctors row was moved to
-- another office, or was gone before diffmig first synced): kept, made inactive and not primary
-- (considered until that is applied and recorded).
links_without_pair as (
    select
        {{ gone_from_mirror_columns('doctor_offices', 'target_pairs.doctor_office_id', helpers=[
            'target_pairs.pair_key as _legacy_key',
            'target_pairs.legacy_office_id as _legacy_office_id',
            'target_pairs.legacy_user_id as _legacy_user_id',
            'true as _is_target_only',
            'true as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ], targets='target_pairs') }}
    from target_pairs
    left join pairs on target_pairs.pair_key = pairs.pair_key
    left join known on target_pairs.pair_key = known.legacy_key
    where
        pairs.pair_key is null
        and (
            target_pairs.is_active is distinct from false
            or target_pairs.is_primary is distinct from false
            or known.legacy_key is null
        )
),

all_mapped as (
    select * from mapped
    union all
    select * from links_without_pair
),

compared as (
    select
        mapped.*,
        mapped.doctor_id is not null
        and mapped.office_id is not null
        and row_number() over (
            partition by mapped.doctor_id, mapped.office_id
            order by mapped.is_active desc, mapped._legacy_key asc
        ) > 1 as _is_duplicate_target_pair,
        targets.doctor_office_id is not null as _has_target_row,
        {{ written_by_earlier_scripts('targets.doctor_office_id') }} as _written_by_earlier_scripts,
        {{ drift_columns('doctor_offices') }} as _drift_columns
    from all_mapped as mapped
    left join targets
        on
            mapped.doctor_id = targets.doctor_id
            and mapped.office_id = targets.office_id
    left join known on mapped._legacy_key = known.legacy_key
),

checked as (
    select
        compared.*,
        {{ issues_array([
            issue_when("not compared._is_deleted_in_source and compared.doctor_id is null", "error",
                "doctor_not_migrated",
                "format('user %s has no doctors row (not a doctor profile, or held back)', compared._legacy_user_id)"),
            issue_when("not compared._is_deleted_in_source and compared.office_id is null", "error",
                "office_not_migrated",
                "format('office %s is not in offices', compared._legacy_office_id)"),
            issue_when("compared._is_duplicate_target_pair", "error", "duplicate_target_pair",
                "format('another legacy pair maps to the same doctor %s and office %s', compared.doctor_id, compared.office_id)"),
            drift_issue(applies=drift_applies),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        -- a deleted pair that never reached the target has nothing to deactivate
        {{ apply_decision(
            requires=['checked.doctor_id', 'checked.office_id'],
            applies=drift_applies,
            deleted='checked._is_deleted_in_source',
            has_target='checked._has_target_row',
        ) }} as _apply
    from checked
)

select * from decided
