{#- Tasks mapped to the Supabase shape (world.md 8.4) from dispatch_task, with their issues and the
    decision to apply each row. The order (by instruction), the assignee (the actor's profile)
    and the template are read through their marts (built first). order_id is required: a task
    without instruction, whose instruction is gone, or whose order is not migrated is held back
    (error; retried every run). assigned_to and template_id are optional: a gone or not migrated
    actor or template leaves them null with a warning (not migrated: retried until the parent
    lands); template_name is the template's name in the target, else 'Template <id>'. status
    comes from the task_status seed over (done_at set, checked), with its fallback. tasks has no
    soft-delete column: a deleted task is reported and its row kept.

    Cost: dispatch_task is the largest second-wave table (960,000 rows at scale 1.0), and its
    rows change in place (checked later), so
      - a delta build (var since_run > 0) selects the considered keys first (the tasks synced
        since, those of templates synced since, the retried keys), then reads only those tasks
        and their target rows by primary-key lookups; a full build (since_run 0) reads every
        task once, joined to its target row, without a key list (entity_inputs' lookup);
      - the UUID of a task is resolved inline, as int_tasks_keyed does (the target row's id,
        else UUID v5; no migration_mappings type is trusted), because that key map reads every
        task;
      - target tasks whose legacy row was gone before diffmig's first sync are looked for by
        full builds only: the mirror never drops a key, so that set is fixed after the first
        sync, and their only issue (deleted_in_source, the rows are kept) stays open. -#}
{%- set full_build = (var('since_run', 0) | int) == 0 %}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('tasks', 'stg_legacy__tasks', 'legacy_task_id',
    retry=['actor_not_migrated', 'template_not_migrated'],
    parents={'stg_legacy__templates': 'legacy_template_id'},
    lookup=true,
    lookup_full_scan=true) }}

-- The legacy parents (to tell one gone from the legacy database from one not migrated yet).
legacy_templates as (
    select
        legacy_template_id,
        synced_run,
        is_deleted_in_source
    from {{ ref('stg_legacy__templates') }}
),

legacy_users as (
    select
        legacy_user_id,
        is_deleted_in_source
    from {{ ref('stg_legacy__users') }}
),

instructions as (
    select
        legacy_instruction_id,
        is_deleted_in_source
    from {{ ref('stg_legacy__instructions') }}
),

first_template_sync as (
    {{ first_synced_run('legacy_templates') }}
),

-- Parents that exist after their marts ran (a row held back is not there).
orders as (
    select
        orders.id as order_id,
        orders.legacy_instruction_id
    from {{ ref('orders') }} as orders
    where orders.legacy_instruction_id is not null
),

profiles as (
    select
        profiles.id as profile_id,
        profiles.legacy_user_id
    from {{ ref('profiles') }} as profiles
    where profiles.legacy_user_id is not null
),

templates as (
    select
        templates.id as template_id,
        templates.name as template_name,
        templates.legacy_template_id
    from {{ ref('templates') }} as templates
    where templates.legacy_template_id is not null
),

task_status as (
    select * from {{ ref('task_status') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTE is
-- materialized so that it is computed once (the planner may otherwise put it on the inner side
-- of a nested loop and compute it again for every considered row).
fallback_status as materialized (
    select max(task_status.task_status) filter (where task_status.is_fallback) as task_status
    from task_status
),

mapped as (
    select
        -- int_tasks_keyed's rule (the target row's id, else UUID v5; no mapping type is
        -- trusted), resolved for the considered rows only: the key map reads every task
        coalesce(
            considered.existing_task_id,
            {{ legacy_uuid('tasks', 'considered.legacy_task_id') }}
        ) as id,
        orders.order_id,
        profiles.profile_id as assigned_to,
        templates.template_id,
        coalesce(
            templates.template_name, 'Template ' || considered.legacy_template_id
        ) as template_name,
        considered.task_text as description,  -- noqa: RF04
        considered.jaw as jaw_specification,
        coalesce(task_status.task_status, fallback_status.task_status) as status,
        considered.is_checked as checked,  -- noqa: RF04
        considered.done_at as completed_at,
        considered.legacy_task_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'plan_id', considered.legacy_plan_id,
            'file_id', considered.legacy_file_id,
            'order_id', considered.legacy_order_number
        )) as metadata,
        considered.legacy_instruction_id as _legacy_instruction_id,
        considered.legacy_actor_id as _legacy_actor_id,
        considered.legacy_template_id as _legacy_template_id,
        instructions.legacy_instruction_id is not null
        and not instructions.is_deleted_in_source as _is_instruction_in_source,
        legacy_users.legacy_user_id is not null
        and not legacy_users.is_deleted_in_source as _is_actor_in_source,
        legacy_templates.legacy_template_id is not null
        and not legacy_templates.is_deleted_in_source as _is_template_in_source,
        task_status.task_status is null as _is_unknown_status,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({
            'considered': 'first_sync',
            'legacy_templates': 'first_template_sync',
        }) }} as _is_changed_after_first_sync
    from considered
    cross join first_sync
    cross join first_template_sync
    cross join fallback_status
    left join task_status
        on
            (considered.done_at is not null) = task_status.has_done_at
            and considered.is_checked = task_status.is_checked
            and not task_status.is_fallback
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
    left join profiles on considered.legacy_actor_id = profiles.legacy_user_id
    left join legacy_users on considered.legacy_actor_id = legacy_users.legacy_user_id
    left join templates on considered.legacy_template_id = templates.legacy_template_id
    left join legacy_templates
        on considered.legacy_template_id = legacy_templates.legacy_template_id
),

{{ entity_decision('tasks', 'legacy_task_id',
    issues=[
        issue_when("compared._legacy_instruction_id is null", "error",
            "task_without_instruction",
            "'the task has no instruction (tasks.order_id is not null): held back'"),
        issue_when("compared._legacy_instruction_id is not null and compared.order_id is null"
            ~ " and not compared._is_instruction_in_source",
            "error", "instruction_missing",
            "format('instruction %s does not exist in the legacy database and has no order: held back', compared._legacy_instruction_id)"),
        missing_parent_issue('tasks', 'order_id', "order_not_migrated",
            "compared._legacy_instruction_id is not null and compared.order_id is null"
            ~ " and compared._is_instruction_in_source",
            "format('instruction %s has no order (held back or not yet migrated)', compared._legacy_instruction_id)"),
        issue_when("compared._legacy_actor_id is not null and compared.assigned_to is null"
            ~ " and not compared._is_actor_in_source",
            "warning", "actor_missing",
            "format('actor user %s does not exist in the legacy database and has no profile: assigned_to left null', compared._legacy_actor_id)"),
        missing_parent_issue('tasks', 'assigned_to', "actor_not_migrated",
            "compared._legacy_actor_id is not null and compared.assigned_to is null"
            ~ " and compared._is_actor_in_source",
            "format('actor user %s has no profile (held back or not yet migrated)', compared._legacy_actor_id)"),
        issue_when("compared._legacy_template_id is not null and compared.template_id is null"
            ~ " and not compared._is_template_in_source",
            "warning", "template_missing",
            "format('template %s does not exist in the legacy database and has no templates row: template_id left null, template_name %s', compared._legacy_template_id, quote_literal(compared.template_name))"),
        missing_parent_issue('tasks', 'template_id', "template_not_migrated",
            "compared._legacy_template_id is not null and compared.template_id is null"
            ~ " and compared._is_template_in_source",
            "format('template %s has no templates row (held back or not yet migrated), template_name %s', compared._legacy_template_id, quote_literal(compared.template_name))"),
        issue_when("compared.checked and compared.completed_at is null", "warning",
            "checked_without_done_at",
            "format('checked but done_at is null: status %s, completed_at left null', compared.status)"),
        issue_when("compared._is_unknown_status", "warning", "unknown_task_status",
            "format('(done_at set, checked) = (%s, %s) is not in seed task_status: status %s', compared.completed_at is not null, coalesce(compared.checked::text, 'null'), compared.status)"),
    ],
    gone=[
        'null::integer as _legacy_instruction_id',
        'null::integer as _legacy_actor_id',
        'null::integer as _legacy_template_id',
        'false as _is_instruction_in_source',
        'false as _is_actor_in_source',
        'false as _is_template_in_source',
        'false as _is_unknown_status',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    gone_when=none if full_build else "false",
    requires=['checked.order_id'],
    lateral_targets=true,
    target_id='task_id',
    deletion_reported=true,
    row_name='task',
) }}
