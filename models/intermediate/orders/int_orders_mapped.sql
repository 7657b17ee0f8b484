{#- Orders mapped to the Supabase shape (world.md section 5), one per legacy instruction (those
    with the deleted flag too), with their issues and the decision to apply each row. The patient,
    doctor and office are read through their marts (built first): an instruction whose patient is
    gone or not migrated is held back; the doctor is set only when it is a doctors row whose
    profile is a doctor (the validate_orders trigger raises otherwise). Considers the instructions
    synced since the last applied run, those whose patient or course was, those with open errors,
    those whose target order holds a doctor the trigger would now reject, and target orders whose
    instruction was deleted before diffmig first synced it. An instruction gone from the source
    changes only deleted and deleted_at of its order (the other columns keep the target's values;
    a doctor the trigger would reject is cleared). -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('orders', 'stg_legacy__instructions', 'legacy_instruction_id',
    parents={
        'stg_legacy__patients': 'legacy_patient_id',
        'stg_legacy__courses': 'legacy_course_id',
    },
    reconsider=[
        "staged.legacy_instruction_id in (select targets.legacy_instruction_id from targets"
        ~ " where targets.doctor_id is not null"
        ~ " and targets.doctor_id not in (select valid_doctors.doctor_id from valid_doctors))",
    ]) %}
-- The only doctors validate_orders accepts: a doctors row whose profile is of type doctor.
valid_doctors as (
    select
        doctors.id as doctor_id,
        doctors.legacy_user_id
    from {{ ref('doctors') }} as doctors
    inner join {{ ref('profiles') }} as profiles on doctors.profile_id = profiles.id
    where profiles.profile_type = 'doctor'
),
{% endcall %}

legacy_patients as (
    select * from {{ ref('stg_legacy__patients') }}
),

courses as (
    select * from {{ ref('stg_legacy__courses') }}
),

order_status as (
    select * from {{ ref('order_status') }}
),

course_types as (
    select * from {{ ref('course_types') }}
),

typed_users as (
    select * from {{ ref('int_profiles_typed') }}
),

patients as (
    select
        id as patient_id,
        legacy_patient_id,
        suffix,
        primary_doctor_id,
        assigned_office_id
    from {{ ref('patients') }}
    where legacy_patient_id is not null
),

offices as (
    select
        id as office_id,
        legacy_office_id
    from {{ ref('offices') }}
    where legacy_office_id is not null
),

-- The earlier scripts' last completed run over orders: a legacy row updated after it was changed
-- in the source since (world.md section 6), so it is applied rather than reported as drift.
earlier_migration as (
    select max(migration_control.completed_at) as completed_at
    from {{ ref('stg_supabase__migration_control') }} as migration_control
    where
        migration_control.table_name = 'orders'
        and migration_control.is_completed
        and not migration_control.is_written_by_diffmig
),

-- An order takes its doctor, office and order number from its patient, its course type from
-- its course: a change to either is a change to the order.
first_patient_sync as (
    {{ first_synced_run('legacy_patients') }}
),

first_course_sync as (
    {{ first_synced_run('courses') }}
),

status_fallback as (
    select order_status.order_status
    from order_status
    where order_status.is_fallback
),

course_type_fallback as (
    select course_types.course_type
    from course_types
    where course_types.is_fallback
),

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.suffix), '') || '-' || considered.legacy_instruction_id,
            nullif(btrim(coalesce(legacy_patients.suffix, patients.suffix)), '')
            || '-' || considered.legacy_instruction_id,
            'ORD-' || considered.legacy_instruction_id
        ) as order_number,
        patients.patient_id,
        case
            when legacy_patients.legacy_patient_id is not null then patient_doctors.doctor_id
            else target_patient_doctors.doctor_id
        end as doctor_id,
        case
            when legacy_patients.legacy_patient_id is not null then offices.office_id
            else patients.assigned_office_id
        end as office_id,
        coalesce(course_types.course_type, course_type_fallback.course_type) as course_type,
        coalesce(order_status.order_status, status_fallback.order_status) as status,
        considered.notes,
        considered.complaint,
        round(considered.price, 2) as amount,
        considered.submitted_at,
        case when considered.status_code >= 2 then considered.updated_at end as approved_at,
        case when considered.status_code = 4 then considered.updated_at end as shipped_at,
        considered.is_deleted or considered.is_deleted_in_source as deleted,
        case
            when considered.is_deleted then considered.updated_at
            when considered.is_deleted_in_source then considered.source_deleted_at
        end as deleted_at,
        case
            when considered.is_exports_invalid
                then jsonb_build_object('legacy_exports', considered.exports_text)
            else considered.exports
        end as exports,
        considered.suffix,
        considered.legacy_instruction_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'status', considered.status_code,
            'model', considered.model_code,
            'scanner', considered.scanner_code,
            'cbct', considered.has_cbct,
            'order', considered.order_code,
            'objective', considered.objective,
            'conditions', considered.conditions,
            'upper_jaw_id', considered.legacy_upper_jaw_id,
            'lower_jaw_id', considered.legacy_lower_jaw_id,
            'comprehensive', considered.is_comprehensive,
            'accept_extraction', considered.accepts_extraction,
            'scanner_notes', considered.scanner_notes,
            'course_id', considered.legacy_course_id
        )) as metadata,
        considered.legacy_patient_id as _legacy_patient_id,
        legacy_patients.legacy_patient_id is not null
        and not legacy_patients.is_deleted_in_source as _is_patient_in_source,
        legacy_patients.legacy_doctor_user_id as _legacy_doctor_user_id,
        typed_users.profile_type as _doctor_profile_type,
        case
            when legacy_patients.legacy_patient_id is null then patients.primary_doctor_id
        end as _target_patient_doctor_id,
        legacy_patients.legacy_office_id as _legacy_office_id,
        considered.status_code as _status_code,
        order_status.status_code is null as _is_unknown_status,
        considered.legacy_course_id as _legacy_course_id,
        courses.course_type_code as _course_type_code,
        course_types.course_type_code is null as _is_unknown_course_type,
        considered.price as _legacy_price,
        considered.is_exports_invalid as _is_exports_invalid,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        coalesce(considered.updated_at > earlier_migration.completed_at, false)
            as _is_updated_after_earlier_scripts,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({
            'considered': 'first_sync',
            'legacy_patients': 'first_patient_sync',
            'courses': 'first_course_sync',
        }) }} as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_instruction_id = keyed.legacy_key
    cross join earlier_migration
    cross join first_sync
    cross join first_patient_sync
    cross join first_course_sync
    cross join status_fallback
    cross join course_type_fallback
    left join legacy_patients
        on considered.legacy_patient_id = legacy_patients.legacy_patient_id
    left join patients on considered.legacy_patient_id = patients.legacy_patient_id
    left join valid_doctors as patient_doctors
        on legacy_patients.legacy_doctor_user_id = patient_doctors.legacy_user_id
    left join valid_doctors as target_patient_doctors
        on patients.primary_doctor_id = target_patient_doctors.doctor_id
    left join typed_users on legacy_patients.legacy_doctor_user_id = typed_users.legacy_user_id
    left join offices on legacy_patients.legacy_office_id = offices.legacy_office_id
    left join courses on considered.legacy_course_id = courses.legacy_course_id
    left join course_types on courses.course_type_code = course_types.course_type_code
    left join order_status on considered.status_code = order_status.status_code
),

-- Target orders whose instruction is not in the mirror at all (deleted in the source before
-- diffmig first synced it) are kept with the target's values, soft-deleted (deleted_at: the
-- target's, else when this build found it gone). An instruction gone from the source changes
-- only deleted and deleted_at of its target order (_keeps_target_values): its last content is
-- not re-applied. A doctor validate_orders would now reject is cleared in both. A hard-deleted
-- instruction that never reached the target has nothing to apply or report.
{{ entity_decision('orders', 'legacy_instruction_id',
    issues=[
        issue_when("compared.patient_id is null and not compared._is_patient_in_source"
            ~ " and not compared._keeps_target_values",
            "error", "patient_missing",
            "format('patient %s does not exist in the legacy database and has no target row', compared._legacy_patient_id)"),
        issue_when("compared.patient_id is null and compared._is_patient_in_source"
            ~ " and not compared._keeps_target_values",
            "error", "patient_not_migrated",
            "format('patient %s is not in patients (held back or not yet migrated)', compared._legacy_patient_id)"),
        issue_when("compared._legacy_doctor_user_id is not null and compared.doctor_id is null"
            ~ " and compared._doctor_profile_type = 'doctor' and not compared._is_deleted_in_source",
            "error", "doctor_not_migrated",
            "format('doctor user %s of patient %s has no doctors row with a doctor profile yet', compared._legacy_doctor_user_id, compared._legacy_patient_id)"),
        issue_when("compared._legacy_doctor_user_id is not null and compared.doctor_id is null"
            ~ " and compared._doctor_profile_type is distinct from 'doctor'",
            "warning", "doctor_not_a_doctor",
            "format('doctor user %s of patient %s is %s, not a doctor: doctor_id left null', compared._legacy_doctor_user_id, compared._legacy_patient_id, coalesce(compared._doctor_profile_type, 'unknown'))"),
        issue_when("compared._target_patient_doctor_id is not null and compared.doctor_id is null",
            "warning", "doctor_not_a_doctor",
            "format('doctor %s is no doctors row with a doctor profile any more: doctor_id left null', compared._target_patient_doctor_id)"),
        issue_when("compared._legacy_office_id is not null and compared.office_id is null"
            ~ " and not compared._is_deleted_in_source",
            "error", "office_not_migrated",
            "format('office %s of patient %s is not in offices', compared._legacy_office_id, compared._legacy_patient_id)"),
        issue_when(numeric_overflows("compared._legacy_price", 10, 2), "error", "amount_out_of_range",
            "format('price %s does not fit numeric(10,2)', compared._legacy_price)"),
        issue_when("compared._is_unknown_status", "warning", "unknown_order_status",
            "format('status %s is not in seed order_status: %s', coalesce(compared._status_code::text, 'null'), compared.status)"),
        issue_when("compared._is_unknown_course_type", "warning", "unknown_course_type",
            "format('course %s type %s is not in seed course_types: %s', compared._legacy_course_id, coalesce(compared._course_type_code::text, 'null'), compared.course_type)"),
        issue_when("compared._is_exports_invalid", "warning", "invalid_json_exports",
            "'exports is not valid JSON: kept as legacy_exports'"),
    ],
    gone=[
        'null::integer as _legacy_patient_id',
        'false as _is_patient_in_source',
        'null::integer as _legacy_doctor_user_id',
        'null::text as _doctor_profile_type',
        'targets.doctor_id as _target_patient_doctor_id',
        'null::integer as _legacy_office_id',
        'null::integer as _status_code',
        'false as _is_unknown_status',
        'null::integer as _legacy_course_id',
        'null::integer as _course_type_code',
        'false as _is_unknown_course_type',
        'targets.amount as _legacy_price',
        'false as _is_exports_invalid',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_updated_after_earlier_scripts',
        'false as _is_changed_after_first_sync',
    ],
    gone_values={'doctor_id': 'valid_doctors.doctor_id'},
    gone_joins=['left join valid_doctors on targets.doctor_id = valid_doctors.doctor_id'],
    compared_columns=[
        'targets.order_id is not null as _has_target_row',
        'mapped._is_deleted_in_source and targets.order_id is not null as _keeps_target_values',
    ],
    no_issues_when='compared._is_deleted_in_source and not compared._has_target_row',
    applies=['checked._is_deleted_in_source', 'checked._is_updated_after_earlier_scripts'],
    conditions=['(checked.patient_id is not null or checked._keeps_target_values)'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
    keep_target_when='decided._keeps_target_values',
    kept_values={'doctor_id': 'target_doctors.doctor_id'},
    kept_joins=[
        'left join valid_doctors as target_doctors on targets.doctor_id = target_doctors.doctor_id',
    ],
) }}
