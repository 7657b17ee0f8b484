{#- Technicians mapped to the Supabase shape (world.md section 5): one per user whose profile type
    is technician. A target technician whose user is deleted in the source, or is no longer a
    technician, is deactivated (is_active false, status inactive). Considers the users whose
    auth_user row, groups or patient rows changed since the last applied run, those with open
    errors, and target technicians whose user is gone from the source. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('technicians', 'stg_legacy__users', 'legacy_user_id',
    changes='technician_changes') %}
typed as (
    select * from {{ ref('int_profiles_typed') }}
),

-- The users typed technician, and those that have a technicians row already (deactivated when
-- no longer technicians), with the run that last changed their auth_user row, groups or patient
-- rows.
technician_changes as (
    select
        typed.legacy_user_id,
        typed.synced_run
    from typed
    left join targets on typed.legacy_user_id = targets.legacy_user_id
    where typed.profile_type = 'technician' or targets.technician_id is not null
),
{% endcall %}

profiles as (
    select
        id as profile_id,
        legacy_user_id,
        profile_type::text as profile_type
    from {{ ref('profiles') }}
),

mapped as (
    select
        keyed.target_id as id,
        profiles.profile_id,
        considered.username as employee_id,
        case
            when
                considered.is_active
                and not considered.is_deleted_in_source
                and typed.profile_type = 'technician'
                then 'active'
            else 'inactive'
        end as status,
        considered.is_active
        and not considered.is_deleted_in_source
        and typed.profile_type = 'technician' as is_active,
        (considered.joined_at at time zone 'UTC')::date as hire_date,
        considered.legacy_user_id,
        typed.profile_type as _rule_profile_type,
        profiles.profile_type as _profile_type,
        typed.profile_type <> 'technician' as _is_no_longer_technician,
        false as _is_target_only,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.changed_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join typed on considered.legacy_user_id = typed.legacy_user_id
    inner join keyed on considered.legacy_user_id = keyed.legacy_key
    cross join first_sync
    left join profiles on considered.legacy_user_id = profiles.legacy_user_id
),

{% call entity_decision('technicians', 'legacy_user_id',
    issues=[
        issue_when("not compared._is_target_only and compared.profile_id is null", "error",
            "profile_not_migrated",
            "format('the profile of user %s is not in profiles', compared.legacy_user_id)"),
        issue_when("compared._employee_id_holder is not null", "error", "employee_id_taken",
            "format('employee_id %L already belongs to technician %s; technicians.employee_id is unique', compared.employee_id, compared._employee_id_holder)"),
        issue_when("compared._is_employee_id_duplicated", "error", "employee_id_duplicated",
            "format('employee_id %L is claimed by several users that do not hold it yet', compared.employee_id)"),
        issue_when("not compared._is_target_only and not compared._is_no_longer_technician and compared._profile_type <> 'technician'",
            "warning", "profile_not_technician",
            "format('profile %s of user %s has profile_type %s', compared.profile_id, compared.legacy_user_id, compared._profile_type)"),
        issue_when("compared._is_no_longer_technician and not compared._is_deleted_in_source",
            "warning", "no_longer_technician",
            "format('user %s is now typed %s: technicians row deactivated', compared.legacy_user_id, compared._rule_profile_type)"),
    ],
    gone=[
        'null::text as _rule_profile_type',
        'null::text as _profile_type',
        'false as _is_no_longer_technician',
        'true as _is_target_only',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when="targets.legacy_user_id is not null and (targets.is_active is distinct from false"
        ~ " or targets.status is distinct from 'inactive' or " ~ not_applied() ~ ")",
    compared_columns=[
        'holders.technician_id as _employee_id_holder',
        'coalesce(employee_id_claims.claimants, 0) > 1 as _is_employee_id_duplicated',
    ],
    compared_joins=[
        'left join employee_id_claims'
        ~ ' on mapped.legacy_user_id = employee_id_claims.legacy_user_id',
        'left join targets as holders on mapped.employee_id = holders.employee_id'
        ~ ' and holders.legacy_user_id is distinct from mapped.legacy_user_id',
    ],
    applies=['checked._is_deleted_in_source', 'checked._is_no_longer_technician'],
) %}
-- employee_id is unique in technicians: another row (another user, or one the app created) may
-- hold the username already, and two mapped rows may claim one that neither holds yet.
employee_id_claims as (
    select
        mapped.legacy_user_id,
        count(*) over (partition by mapped.employee_id) as claimants
    from all_mapped as mapped
    left join targets on mapped.legacy_user_id = targets.legacy_user_id
    where
        mapped.employee_id is not null
        and targets.employee_id is distinct from mapped.employee_id
),
{% endcall %}
