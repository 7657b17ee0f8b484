{#- Treatment plans mapped to the Supabase shape (world.md 8.4), with their issues and the
    decision to apply each row. The project, the order (by instruction) and the order's patient
    and doctor profiles are read through their marts (built first): project_id is required (a
    project gone or not migrated holds the plan back), order_id optional (a plan without
    instruction, whose instruction is gone, or whose order is not migrated lands with order_id,
    patient_id and doctor_id null and a warning). plan_name is cut at 100 characters (the full
    name in metadata, warned). treatment_plans has no soft-delete column: a deleted plan is
    reported and its row kept. The table has no unique constraint on legacy_plan_id and the
    earlier scripts left second rows of some keys: the mart declares duplicate_targets, so the
    oldest row of a key is the one mapped here (the frame's targets) and the others are reported
    (deleted only on reconcile). Considers the plans synced since the last applied run, those
    whose instruction or its patient was (the order's patient and doctor), those whose order's
    patient or doctor changed in the target (diffmig's plans whose order now has another patient
    or doctor, after the orders' reconcile say: no legacy row of theirs changed), those with open
    errors or waiting for their order, and target plans whose legacy row was deleted before
    diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('treatment_plans', 'stg_legacy__plans', 'legacy_plan_id',
    retry=['order_not_migrated'],
    parents={'stg_legacy__instructions': 'legacy_instruction_id'},
    reconsider=[
        "staged.legacy_instruction_id in (select instructions.legacy_instruction_id"
        ~ " from instructions inner join legacy_patients"
        ~ " on instructions.legacy_patient_id = legacy_patients.legacy_patient_id"
        ~ " where " ~ changed_since('legacy_patients') ~ ")",
        "staged.legacy_plan_id in (select targets.legacy_plan_id from targets"
        ~ " left join known on targets.legacy_plan_id::text = known.legacy_key"
        ~ " inner join orders on targets.order_id = orders.order_id"
        ~ " where not " ~ not_applied()
        ~ " and (targets.patient_id, targets.doctor_id)"
        ~ " is distinct from (orders.patient_profile_id, orders.doctor_profile_id))",
    ],
    target_id='plan_id') %}

instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),

legacy_patients as (
    select * from {{ ref('stg_legacy__patients') }}
),

-- The order of each instruction, with its patient's and doctor's profiles.
orders as (
    select
        orders.id as order_id,
        orders.legacy_instruction_id,
        patients.profile_id as patient_profile_id,
        doctors.profile_id as doctor_profile_id
    from {{ ref('orders') }} as orders
    left join {{ ref('patients') }} as patients on orders.patient_id = patients.id
    left join {{ ref('doctors') }} as doctors on orders.doctor_id = doctors.id
    where orders.legacy_instruction_id is not null
),
{% endcall %}

legacy_projects as (
    select * from {{ ref('stg_legacy__projects') }}
),

projects as (
    select
        id as project_id,
        legacy_project_id
    from {{ ref('projects') }}
    where legacy_project_id is not null
),

first_instruction_sync as (
    {{ first_synced_run('instructions') }}
),

first_patient_sync as (
    {{ first_synced_run('legacy_patients') }}
),

mapped as (
    select
        keyed.target_id as id,
        projects.project_id,
        orders.order_id,
        orders.patient_profile_id as patient_id,
        orders.doctor_profile_id as doctor_id,
        considered.plan_number,
        left(
            coalesce(
                nullif(btrim(considered.plan_name), ''),
                'Treatment plan ' || considered.legacy_plan_id
            ),
            100
        ) as plan_name,
        considered.notes as plan_notes,
        considered.is_original,
        considered.legacy_instruction_id,
        considered.legacy_plan_id,
        jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
            'project_id', considered.legacy_project_id,
            'name',
            case when length(btrim(considered.plan_name)) > 100 then considered.plan_name end
        ))) as metadata,
        considered.plan_name as _legacy_name,
        considered.legacy_project_id as _legacy_project_id,
        legacy_projects.legacy_project_id is not null
        and not legacy_projects.is_deleted_in_source as _is_project_in_source,
        instructions.legacy_instruction_id is not null
        and not instructions.is_deleted_in_source as _is_instruction_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({
            'considered': 'first_sync',
            'instructions': 'first_instruction_sync',
            'legacy_patients': 'first_patient_sync',
        }) }} as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_plan_id = keyed.legacy_key
    cross join first_sync
    cross join first_instruction_sync
    cross join first_patient_sync
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
    left join legacy_patients
        on instructions.legacy_patient_id = legacy_patients.legacy_patient_id
    left join legacy_projects on considered.legacy_project_id = legacy_projects.legacy_project_id
    left join projects on considered.legacy_project_id = projects.legacy_project_id
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
),

{{ entity_decision('treatment_plans', 'legacy_plan_id',
    issues=[
        issue_when("compared._legacy_project_id is not null and compared.project_id is null"
            ~ " and not compared._is_project_in_source",
            "error", "project_missing",
            "format('project %s does not exist in the legacy database and has no target row: held back', compared._legacy_project_id)"),
        missing_parent_issue('treatment_plans', 'project_id', "project_not_migrated",
            "compared.project_id is null and compared._is_project_in_source",
            "format('project %s is not in projects (held back or not yet migrated)', compared._legacy_project_id)"),
        issue_when("compared.legacy_instruction_id is null", "warning",
            "plan_without_instruction",
            "'no instruction: order_id, patient_id and doctor_id left null'"),
        issue_when("compared.legacy_instruction_id is not null and compared.order_id is null"
            ~ " and not compared._is_instruction_in_source",
            "warning", "instruction_missing",
            "format('instruction %s does not exist in the legacy database and has no order: order_id, patient_id and doctor_id left null', compared.legacy_instruction_id)"),
        missing_parent_issue('treatment_plans', 'order_id', "order_not_migrated",
            "compared.legacy_instruction_id is not null and compared.order_id is null"
            ~ " and compared._is_instruction_in_source",
            "format('instruction %s has no order (held back or not yet migrated)', compared.legacy_instruction_id)"),
        issue_when("length(btrim(compared._legacy_name)) > 100", "warning", "plan_name_truncated",
            "format('name of %s characters cut to 100: the full name is in metadata.legacy.name', length(btrim(compared._legacy_name)))"),
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.plan_name"),
        duplicate_target_issue('treatment_plans'),
    ],
    gone=[
        'targets.plan_name as _legacy_name',
        'null::integer as _legacy_project_id',
        'false as _is_project_in_source',
        'false as _is_instruction_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    target_id='plan_id',
    deletion_reported=true,
    row_name='plan',
    deleted_issues=[duplicate_target_issue('treatment_plans')],
) }}
