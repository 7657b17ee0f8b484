{#- Patients mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the patients whose dispatch_patient row changed since the last
    applied run (profile, doctor and office keys never change), those with open errors or an open
    doctor/office_not_migrated warning (retried until the parent arrives), with reconcile those
    with open drift, and target patients whose legacy row was deleted before diffmig first synced
    it (only archived changes). Profiles, doctors and offices are read through their marts, so
    they are built first. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('patients', 'stg_legacy__patients', 'legacy_patient_id',
    retry=['doctor_not_migrated', 'office_not_migrated']) }}

profiles_keyed as (
    select * from {{ ref('int_profiles_keyed') }}
),

doctors_keyed as (
    select * from {{ ref('int_doctors_keyed') }}
),

offices_keyed as (
    select * from {{ ref('int_offices_keyed') }}
),

genders as (
    select * from {{ ref('sex_to_gender') }}
),

statuses as (
    select * from {{ ref('patient_status') }}
),

profiles as (
    select id as profile_id from {{ ref('profiles') }}
),

doctors as (
    select id as doctor_id from {{ ref('doctors') }}
),

offices as (
    select id as office_id from {{ ref('offices') }}
),

migration_control as (
    select * from {{ ref('stg_supabase__migration_control') }}
),

-- When the earlier scripts last migrated patients (diffmig's own rows excluded).
earlier_migration as (
    select max(migration_control.completed_at) as completed_at
    from migration_control
    where
        migration_control.table_name = 'patients'
        and migration_control.is_completed
        and not migration_control.is_written_by_diffmig
),

fallback_gender as (
    select genders.gender from genders
    where genders.is_fallback
),

fallback_status as (
    select statuses.patient_status from statuses
    where statuses.is_fallback
),

-- The parents of each considered patient: a key resolves to a parent only when its row exists.
resolved as (
    select
        considered.*,
        keyed.target_id,
        profiles.profile_id,
        doctors.doctor_id,
        offices.office_id,
        case
            when considered.sex_code is null then fallback_gender.gender
            else coalesce(genders.gender, fallback_gender.gender)
        end as gender,
        considered.sex_code is not null and genders.sex_code is null as is_sex_unknown,
        coalesce(statuses.patient_status, fallback_status.patient_status) as patient_status,
        statuses.status_code is null as is_status_unknown,
        case
            when considered.legacy_doctor_user_id is null then null
            when doctors_keyed.legacy_key is null then 'not_a_doctor'
            when doctors.doctor_id is null then 'not_migrated'
        end as doctor_problem,
        considered.legacy_office_id is not null and offices.office_id is null as is_office_missing,
        offices_keyed.legacy_key is not null as is_office_known
    from considered
    inner join keyed on considered.legacy_patient_id = keyed.legacy_key
    cross join fallback_gender
    cross join fallback_status
    left join profiles_keyed on considered.legacy_user_id = profiles_keyed.legacy_key
    left join profiles on profiles_keyed.target_id = profiles.profile_id
    left join doctors_keyed on considered.legacy_doctor_user_id = doctors_keyed.legacy_key
    left join doctors on doctors_keyed.target_id = doctors.doctor_id
    left join offices_keyed on considered.legacy_office_id = offices_keyed.legacy_key
    left join offices on offices_keyed.target_id = offices.office_id
    left join genders on considered.sex_code = genders.sex_code and not genders.is_fallback
    left join statuses on considered.status_code = statuses.status_code and not statuses.is_fallback
),

mapped as (
    select
        resolved.target_id as id,
        resolved.profile_id,
        'PAT-' || case
            when resolved.legacy_patient_id < 1000000
                then lpad(resolved.legacy_patient_id::text, 6, '0')
            else resolved.legacy_patient_id::text
        end as patient_number,
        resolved.suffix,
        resolved.gender as sex,
        resolved.birth_date as date_of_birth,
        resolved.doctor_id as primary_doctor_id,
        resolved.office_id as assigned_office_id,
        resolved.patient_status as status,
        resolved.is_archived or resolved.is_deleted_in_source as archived,
        resolved.is_suspended as suspended,
        case
            when resolved.is_schemes_invalid
                then jsonb_build_object('legacy_schemes', resolved.schemes_text)
            else resolved.schemes
        end as schemes,
        resolved.submitted_at as enrolled_at,
        resolved.legacy_patient_id,
        resolved.legacy_user_id,
        resolved.legacy_doctor_user_id as legacy_doctor_id,
        -- the legacy values a fallback or a missing parent replaced
        case
            when resolved.is_sex_unknown or resolved.is_status_unknown or resolved.is_office_missing
                then jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
                        'sex', case when resolved.is_sex_unknown then resolved.sex_code end,
                        'status',
                        case when resolved.is_status_unknown then resolved.status_code end,
                        'office_id',
                        case when resolved.is_office_missing then resolved.legacy_office_id end
                    )))
            else '{}'::jsonb
        end as metadata,
        resolved.profile_id is null as _is_profile_missing,
        resolved.doctor_problem as _doctor_problem,
        resolved.is_office_missing as _is_office_missing,
        resolved.is_office_known as _is_office_known,
        resolved.legacy_office_id as _legacy_office_id,
        resolved.sex_code as _legacy_sex_code,
        resolved.is_sex_unknown as _is_sex_unknown,
        resolved.status_code as _legacy_status_code,
        resolved.is_status_unknown as _is_status_unknown,
        resolved.is_schemes_invalid as _is_schemes_invalid,
        resolved.is_deleted_in_source as _is_deleted_in_source,
        resolved.synced_run > first_sync.synced_run as _is_changed_after_first_sync,
        coalesce(resolved.updated_at > earlier_migration.completed_at, false)
            as _is_updated_after_earlier_migration
    from resolved
    cross join first_sync
    cross join earlier_migration
),

{{ entity_decision('patients', 'legacy_patient_id',
    issues=[
        issue_when("compared._is_profile_missing", "error", "profile_not_migrated",
            "format('user %s of patient %s has no migrated profile: held back until it is', compared.legacy_user_id, compared.legacy_patient_id)"),
        issue_when("compared._doctor_problem = 'not_a_doctor'", "warning", "doctor_not_a_doctor",
            "format('doctor_id %s is not a doctor (no doctor profile, no doctors row): primary_doctor_id null, legacy_doctor_id kept', compared.legacy_doctor_id)"),
        issue_when("compared._doctor_problem = 'not_migrated'", "warning", "doctor_not_migrated",
            "format('doctor user %s has no doctors row yet: primary_doctor_id null until it is migrated', compared.legacy_doctor_id)"),
        issue_when("compared._is_office_missing", "warning", "office_not_migrated",
            "format(case when compared._is_office_known then 'office %s is not migrated yet' else 'office %s does not exist' end || ': assigned_office_id null, the id kept in metadata.legacy.office_id', compared._legacy_office_id)"),
        issue_when("compared._is_sex_unknown", "warning", "unknown_sex",
            "format('sex %s is not in sex_to_gender: sex %s', compared._legacy_sex_code, compared.sex)"),
        issue_when("compared._is_status_unknown", "warning", "unknown_patient_status",
            "format('status %s is not in patient_status: status %s', coalesce(compared._legacy_status_code::text, 'null'), compared.status)"),
        issue_when("compared._is_schemes_invalid", "warning", "invalid_json_schemes",
            "'schemes is not valid JSON: written as an object with the text under legacy_schemes'"),
        issue_when("compared.date_of_birth < date '1900-01-02' or compared.date_of_birth > current_date",
            "warning", "implausible_birth_date",
            "format('birthdate %s (copied)', compared.date_of_birth)"),
        issue_when("compared.enrolled_at < timestamptz '1990-01-01' or compared.enrolled_at > now() + interval '1 day'",
            "warning", "implausible_enrolled_at",
            "format('submitted_at %s (copied)', compared.enrolled_at)"),
    ],
    gone=[
        'false as _is_profile_missing',
        'null::text as _doctor_problem',
        'false as _is_office_missing',
        'true as _is_office_known',
        'null::integer as _legacy_office_id',
        'null::integer as _legacy_sex_code',
        'false as _is_sex_unknown',
        'null::integer as _legacy_status_code',
        'false as _is_status_unknown',
        'false as _is_schemes_invalid',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
        'false as _is_updated_after_earlier_migration',
    ],
    gone_when='targets.archived is distinct from true or ' ~ not_applied(),
    applies=[
        'checked._is_deleted_in_source',
        'checked._is_updated_after_earlier_migration',
    ],
) }}
