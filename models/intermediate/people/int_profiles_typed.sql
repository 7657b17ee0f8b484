{#- Every legacy user with the profile type world.md section 5 gives it, and the patient row its
    profile copies from. A user deleted in the source keeps the groups and patient rows it had
    when it was deleted (rows found gone in the same sync), so a deletion never re-types a
    profile. A user that already has a doctors row stays a doctor profile: validate_orders
    requires every order's doctor to have a doctor profile. -#}
with

users as (
    select * from {{ ref('stg_legacy__users') }}
),

user_groups as (
    select * from {{ ref('stg_legacy__user_groups') }}
),

patients as (
    select * from {{ ref('stg_legacy__patients') }}
),

group_types as (
    select * from {{ ref('group_to_profile_type') }}
),

target_profiles as (
    select * from {{ ref('stg_supabase__profiles') }}
),

target_doctors as (
    select * from {{ ref('stg_supabase__doctors') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback profile type.
fallback_type as (
    select max(group_types.profile_type) filter (where group_types.is_fallback) as profile_type
    from group_types
),

memberships as (
    select
        user_groups.legacy_user_id,
        user_groups.legacy_group_id,
        group_types.profile_type,
        group_types.precedence,
        group_types.group_id is null as is_unknown_group
    from user_groups
    inner join users on user_groups.legacy_user_id = users.legacy_user_id
    left join group_types
        on
            user_groups.legacy_group_id = group_types.group_id
            and not group_types.is_fallback
    where
        not user_groups.is_deleted_in_source
        or (users.is_deleted_in_source and user_groups.synced_run = users.synced_run)
),

groups_per_user as (
    select
        memberships.legacy_user_id,
        array_agg(memberships.legacy_group_id order by memberships.legacy_group_id) as group_ids,
        array_agg(memberships.legacy_group_id order by memberships.legacy_group_id)
        filter (where memberships.is_unknown_group) as unknown_group_ids,
        (array_agg(
            memberships.profile_type
            order by memberships.precedence, memberships.legacy_group_id
        ) filter (where memberships.profile_type is not null))[1] as group_profile_type
    from memberships
    group by memberships.legacy_user_id
),

group_changes as (
    select
        user_groups.legacy_user_id,
        max(user_groups.synced_run) as synced_run
    from user_groups
    group by user_groups.legacy_user_id
),

patient_rows as (
    select
        patients.*,
        not patients.is_deleted_in_source
        or (users.is_deleted_in_source and patients.synced_run = users.synced_run)
            as is_current
    from patients
    inner join users on patients.legacy_user_id = users.legacy_user_id
),

patients_per_user as (
    select
        patient_rows.legacy_user_id,
        count(*) filter (where patient_rows.is_current) as current_patient_rows,
        array_agg(patient_rows.legacy_patient_id order by patient_rows.legacy_patient_id)
        filter (where patient_rows.is_current) as current_patient_ids,
        max(patient_rows.synced_run) as synced_run
    from patient_rows
    group by patient_rows.legacy_user_id
),

chosen_patients as (
    select distinct on (patient_rows.legacy_user_id)
        patient_rows.legacy_user_id,
        patient_rows.legacy_patient_id
    from patient_rows
    order by
        patient_rows.legacy_user_id asc,
        patient_rows.is_current desc,
        patient_rows.legacy_patient_id asc
),

doctor_users as (
    select target_doctors.legacy_user_id
    from target_doctors
    where target_doctors.legacy_user_id is not null
    union
    select target_profiles.legacy_user_id
    from target_doctors
    inner join target_profiles on target_doctors.profile_id = target_profiles.profile_id
),

typed as (
    select
        users.legacy_user_id,
        chosen_patients.legacy_patient_id,
        patients_per_user.current_patient_ids,
        users.is_deleted_in_source,
        coalesce(patients_per_user.current_patient_rows, 0) as current_patient_rows,
        coalesce(groups_per_user.group_ids, '{}') as group_ids,
        coalesce(groups_per_user.unknown_group_ids, '{}') as unknown_group_ids,
        case
            when patients_per_user.current_patient_rows > 0 then 'patient'
            when groups_per_user.group_profile_type is not null
                then groups_per_user.group_profile_type
            when users.is_superuser then 'master'
            else fallback_type.profile_type
        end as rule_profile_type,
        doctor_users.legacy_user_id is not null as has_doctor_row,
        greatest(users.synced_run, group_changes.synced_run, patients_per_user.synced_run)
            as synced_run
    from users
    cross join fallback_type
    left join groups_per_user on users.legacy_user_id = groups_per_user.legacy_user_id
    left join group_changes on users.legacy_user_id = group_changes.legacy_user_id
    left join patients_per_user on users.legacy_user_id = patients_per_user.legacy_user_id
    left join chosen_patients on users.legacy_user_id = chosen_patients.legacy_user_id
    left join doctor_users on users.legacy_user_id = doctor_users.legacy_user_id
),

final as (
    select
        typed.*,
        case when typed.has_doctor_row then 'doctor' else typed.rule_profile_type end
            as profile_type,
        typed.has_doctor_row and typed.rule_profile_type <> 'doctor' as is_kept_doctor
    from typed
)

select * from final
