{#- Cases mapped to the Supabase shape (world.md section 5): one per legacy patient, with their
    issues and the decision to apply each row. Considers the cases whose patient's dispatch_patient
    row changed since the last applied run, those with open errors (a patient not migrated yet) or
    an open doctor/office_not_migrated warning, with reconcile those with open drift, and target
    cases whose patient was deleted before diffmig first synced it (only deleted changes).
    Patients, doctors and offices are read through their marts, so they are built first. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('cases', 'stg_legacy__patients', 'legacy_patient_id',
    retry=['doctor_not_migrated', 'office_not_migrated']) }}

patients_keyed as (
    select * from {{ ref('int_patients_keyed') }}
),

doctors_keyed as (
    select * from {{ ref('int_doctors_keyed') }}
),

offices_keyed as (
    select * from {{ ref('int_offices_keyed') }}
),

case_statuses as (
    select * from {{ ref('patient_status_to_case_status') }}
),

patients as (
    select id as patient_id from {{ ref('patients') }}
),

doctors as (
    select id as doctor_id from {{ ref('doctors') }}
),

offices as (
    select id as office_id from {{ ref('offices') }}
),

-- Every case number in the table, also of cases the app created without a legacy key
-- (stg_supabase__cases keeps only legacy-keyed rows): cases.case_number is unique.
taken_case_numbers as (
    select
        cases.case_number,
        cases.legacy_patient_id
    from {{ source('supabase', 'cases') }} as cases
    where cases.case_number is not null
),

migration_control as (
    select * from {{ ref('stg_supabase__migration_control') }}
),

-- When the earlier scripts last migrated cases (diffmig's own rows excluded).
earlier_migration as (
    select max(migration_control.completed_at) as completed_at
    from migration_control
    where
        migration_control.table_name = 'cases'
        and migration_control.is_completed
        and not migration_control.is_written_by_diffmig
),

fallback_case_status as (
    select case_statuses.case_status from case_statuses
    where case_statuses.is_fallback
),

-- The parents of each considered case: a key resolves to a parent only when its row exists.
resolved as (
    select
        considered.*,
        keyed.target_id,
        patients.patient_id,
        doctors.doctor_id,
        offices.office_id,
        coalesce(case_statuses.case_status, fallback_case_status.case_status) as case_status,
        case_statuses.status_code is null as is_status_unknown,
        case
            when considered.legacy_doctor_user_id is null then null
            when doctors_keyed.legacy_key is null then 'not_a_doctor'
            when doctors.doctor_id is null then 'not_migrated'
        end as doctor_problem,
        considered.legacy_office_id is not null and offices.office_id is null as is_office_missing,
        offices_keyed.legacy_key is not null as is_office_known,
        -- a blank suffix leaves its part out: 'CASE-<id>' (still unique: the id is in every number)
        'CASE-'
        || coalesce(nullif(btrim(considered.suffix), '') || '-', '')
        || considered.legacy_patient_id as case_number
    from considered
    inner join keyed on considered.legacy_patient_id = keyed.legacy_key
    cross join fallback_case_status
    left join patients_keyed on considered.legacy_patient_id = patients_keyed.legacy_key
    left join patients on patients_keyed.target_id = patients.patient_id
    left join doctors_keyed on considered.legacy_doctor_user_id = doctors_keyed.legacy_key
    left join doctors on doctors_keyed.target_id = doctors.doctor_id
    left join offices_keyed on considered.legacy_office_id = offices_keyed.legacy_key
    left join offices on offices_keyed.target_id = offices.office_id
    left join case_statuses
        on considered.status_code = case_statuses.status_code and not case_statuses.is_fallback
),

mapped as (
    select
        resolved.target_id as id,
        resolved.patient_id,
        resolved.doctor_id as primary_doctor_id,
        resolved.office_id,
        resolved.case_number,
        resolved.case_status as status,
        resolved.is_archived or resolved.is_suspended or resolved.is_deleted_in_source as deleted,
        resolved.legacy_patient_id,
        -- the legacy values a fallback or a missing parent replaced
        case
            when resolved.is_status_unknown or resolved.is_office_missing
                then jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
                        'patient_status',
                        case when resolved.is_status_unknown then resolved.status_code end,
                        'office_id',
                        case when resolved.is_office_missing then resolved.legacy_office_id end
                    )))
            else '{}'::jsonb
        end as metadata,
        resolved.patient_id is null as _is_patient_missing,
        resolved.legacy_doctor_user_id as _legacy_doctor_user_id,
        resolved.doctor_problem as _doctor_problem,
        resolved.is_office_missing as _is_office_missing,
        resolved.is_office_known as _is_office_known,
        resolved.legacy_office_id as _legacy_office_id,
        resolved.status_code as _legacy_status_code,
        resolved.is_status_unknown as _is_status_unknown,
        resolved.is_deleted_in_source as _is_deleted_in_source,
        resolved.synced_run > first_sync.synced_run as _is_changed_after_first_sync,
        coalesce(resolved.updated_at > earlier_migration.completed_at, false)
            as _is_updated_after_earlier_migration
    from resolved
    cross join first_sync
    cross join earlier_migration
),

{#- A target case whose patient is in no staged row was deleted before diffmig first synced it:
    its values are kept; only deleted becomes true (considered until that is applied and
    recorded). -#}
{{ entity_decision('cases', 'legacy_patient_id',
    issues=[
        issue_when("compared._is_patient_missing", "error", "patient_not_migrated",
            "format('patient %s is not migrated: the case is held back until it is', compared.legacy_patient_id)"),
        issue_when("compared._is_case_number_taken", "error", "case_number_taken",
            "format('case_number %s is already used by another case', compared.case_number)"),
        issue_when("compared._doctor_problem = 'not_a_doctor'", "warning", "doctor_not_a_doctor",
            "format('doctor_id %s is not a doctor (no doctor profile, no doctors row): primary_doctor_id null', compared._legacy_doctor_user_id)"),
        issue_when("compared._doctor_problem = 'not_migrated'", "warning", "doctor_not_migrated",
            "format('doctor user %s has no doctors row yet: primary_doctor_id null until it is migrated', compared._legacy_doctor_user_id)"),
        issue_when("compared._is_office_missing", "warning", "office_not_migrated",
            "format(case when compared._is_office_known then 'office %s is not migrated yet' else 'office %s does not exist' end || ': office_id null, the id kept in metadata.legacy.office_id', compared._legacy_office_id)"),
        issue_when("compared._is_status_unknown", "warning", "unknown_patient_status",
            "format('patient status %s is not in patient_status_to_case_status: status %s', coalesce(compared._legacy_status_code::text, 'null'), compared.status)"),
    ],
    gone=[
        'false as _is_patient_missing',
        'null::integer as _legacy_doctor_user_id',
        'null::text as _doctor_problem',
        'false as _is_office_missing',
        'true as _is_office_known',
        'null::integer as _legacy_office_id',
        'null::integer as _legacy_status_code',
        'false as _is_status_unknown',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
        'false as _is_updated_after_earlier_migration',
    ],
    gone_when='targets.deleted is distinct from true or ' ~ not_applied(),
    compared_columns=['''exists(
            select taken_case_numbers.case_number from taken_case_numbers
            where
                taken_case_numbers.case_number = mapped.case_number
                and taken_case_numbers.legacy_patient_id is distinct from mapped.legacy_patient_id
        ) as _is_case_number_taken'''],
    applies=['checked._is_deleted_in_source', 'checked._is_updated_after_earlier_migration'],
) }}
