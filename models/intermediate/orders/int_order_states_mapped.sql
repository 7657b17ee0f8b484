{#- Order states mapped to the Supabase shape (world.md section 5): each dispatch_state of an
    instruction. The order is read through the orders mart (built first): a state whose order is
    missing (its instruction gone, or held back) is held back. status_name comes from seed
    state_status_names, changed_by is the actor's profile (read through the profiles mart). An
    actor who still exists in the legacy database but has no profile holds the state back; one
    gone from it leaves changed_by null with a warning. order_states has no soft-delete column: a
    state deleted in the source keeps its target row and gets a `deleted_in_source` warning.
    Considers the states synced since the last applied run, those with open errors, and target
    states whose legacy state was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('order_states', 'stg_legacy__states', 'legacy_state_id') }}

instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),

users as (
    select * from {{ ref('stg_legacy__users') }}
),

status_names as (
    select * from {{ ref('state_status_names') }}
),

orders as (
    select
        id as order_id,
        legacy_instruction_id
    from {{ ref('orders') }}
    where legacy_instruction_id is not null
),

profiles as (
    select
        id as profile_id,
        legacy_user_id
    from {{ ref('profiles') }}
    where legacy_user_id is not null
),

status_fallback as (
    select status_names.status_name
    from status_names
    where status_names.is_fallback
),

mapped as (
    select
        keyed.target_id as id,
        orders.order_id,
        considered.status_code,
        coalesce(status_names.status_name, status_fallback.status_name) as status_name,
        considered.is_on as is_active,
        profiles.profile_id as changed_by,
        considered.changed_at,
        considered.legacy_state_id,
        considered.legacy_instruction_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'actor_id', considered.legacy_actor_user_id
        )) as metadata,
        considered.legacy_actor_user_id as _legacy_actor_user_id,
        users.legacy_user_id is not null and not users.is_deleted_in_source as _is_actor_in_source,
        instructions.legacy_instruction_id is not null
        and not instructions.is_deleted_in_source as _is_instruction_in_source,
        status_names.status_code is null as _is_unknown_status,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_state_id = keyed.legacy_key
    cross join first_sync
    cross join status_fallback
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
    left join users on considered.legacy_actor_user_id = users.legacy_user_id
    left join profiles on considered.legacy_actor_user_id = profiles.legacy_user_id
    left join status_names on considered.status_code = status_names.status_code
),

{{ entity_decision('order_states', 'legacy_state_id',
    issues=[
        issue_when("compared.order_id is null and not compared._is_instruction_in_source",
            "error", "instruction_missing",
            "format('instruction %s does not exist in the legacy database and has no order', compared.legacy_instruction_id)"),
        issue_when("compared.order_id is null and compared._is_instruction_in_source",
            "error", "order_not_migrated",
            "format('instruction %s has no order (held back or not yet migrated)', compared.legacy_instruction_id)"),
        issue_when("compared.changed_at is null", "error", "changed_at_missing",
            "'changed_at is null (order_states.changed_at is not null)'"),
        issue_when("compared.is_active is null", "error", "on_missing",
            "'on is null (order_states.is_active is not null)'"),
        issue_when("compared.status_code is null", "error", "status_missing",
            "'status is null (order_states.status_code is not null)'"),
        issue_when("compared._legacy_actor_user_id is not null and compared.changed_by is null"
            ~ " and compared._is_actor_in_source",
            "error", "actor_not_migrated",
            "format('actor user %s has no profile (held back or not yet migrated)', compared._legacy_actor_user_id)"),
        issue_when("compared._legacy_actor_user_id is not null and compared.changed_by is null"
            ~ " and not compared._is_actor_in_source",
            "warning", "actor_missing",
            "format('actor user %s does not exist in the legacy database and has no profile: changed_by left null', compared._legacy_actor_user_id)"),
        issue_when("compared._is_unknown_status", "warning", "unknown_state_status",
            "format('status %s is not in seed state_status_names: %s', coalesce(compared.status_code::text, 'null'), compared.status_name)"),
    ],
    gone=[
        'null::integer as _legacy_actor_user_id',
        'false as _is_actor_in_source',
        'false as _is_instruction_in_source',
        'false as _is_unknown_status',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    requires=['checked.order_id'],
    deletion_reported=true,
    row_name='state',
) }}
