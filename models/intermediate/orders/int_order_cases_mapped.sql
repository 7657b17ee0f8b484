{#- Order-case links mapped to the Supabase shape (world.md section 5): each legacy instruction's
    order linked to its patient's case, one link per (instruction, patient) pair, keyed
    '<instruction id>:<patient id>'. The order is found by legacy_instruction_id in orders, the
    case by legacy_patient_id in cases (both read through their marts, so they are built first);
    a link whose order or case is not migrated is held back (error). is_active is false when the
    order's instruction is deleted in the source (deleted flag or gone). A target link whose pair
    no longer exists (the instruction is gone or moved to another patient) becomes inactive.
    Considers the instructions synced since the last applied run, those with open errors, and
    active target links that have no legacy pair any more. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = [
    'checked._is_deleted_in_source',
    'checked._is_updated_after_earlier_scripts',
] -%}
{#- Target links of orders or cases without a legacy key are the app's own and left alone. -#}
{%- set junction = {'parents': {
    'order_id': 'orders.legacy_instruction_id',
    'case_id': 'cases.legacy_patient_id',
}} %}

{{ entity_inputs('order_cases', 'stg_legacy__instructions',
    ['legacy_instruction_id', 'legacy_patient_id'], junction=junction) }}

orders as (
    select
        id as order_id,
        legacy_instruction_id
    from {{ ref('orders') }}
    where legacy_instruction_id is not null
),

cases as (
    select
        id as case_id,
        legacy_patient_id
    from {{ ref('cases') }}
    where legacy_patient_id is not null
),

-- The earlier scripts' last completed run over order_cases (see int_orders_mapped).
earlier_migration as (
    select max(migration_control.completed_at) as completed_at
    from {{ ref('stg_supabase__migration_control') }} as migration_control
    where
        migration_control.table_name = 'order_cases'
        and migration_control.is_completed
        and not migration_control.is_written_by_diffmig
),

mapped as (
    select
        coalesce(
            current_links.order_case_id,
            {{ legacy_uuid('order_cases',
                "considered.legacy_instruction_id || ':' || considered.legacy_patient_id") }}
        ) as id,
        orders.order_id,
        cases.case_id,
        'primary' as relationship_type,
        not considered.is_deleted and not considered.is_deleted_in_source as is_active,
        jsonb_build_object('legacy', jsonb_build_object(
            'instruction_id', considered.legacy_instruction_id,
            'patient_id', considered.legacy_patient_id
        )) as metadata,
        considered.legacy_instruction_id as _legacy_instruction_id,
        considered.legacy_patient_id as _legacy_patient_id,
        considered.is_deleted_in_source as _is_deleted_in_source,
        coalesce(considered.updated_at > earlier_migration.completed_at, false)
            as _is_updated_after_earlier_scripts,
        not considered.is_deleted_in_source
        and considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join earlier_migration
    cross join first_sync
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
    left join cases on considered.legacy_patient_id = cases.legacy_patient_id
    left join targets as current_links
        on
            orders.order_id = current_links.order_id
            and cases.case_id = current_links.case_id
    where considered.legacy_patient_id is not null
),

{# A pair deleted in the source that never reached the target has nothing to deactivate: no
    issue. A target link with no legacy pair any more (the instruction was deleted before
    diffmig first synced it, or now belongs to another patient) is made inactive, and
    considered until that is applied and recorded. -#}
{{ entity_decision('order_cases', ['_legacy_instruction_id', '_legacy_patient_id'],
    issues=[
        issue_when("compared.order_id is null", "error", "order_not_migrated",
            "format('instruction %s has no order (held back or not yet migrated)', compared._legacy_instruction_id)"),
        issue_when("compared.case_id is null", "error", "case_not_migrated",
            "format('patient %s has no case (held back or not yet migrated)', compared._legacy_patient_id)"),
    ],
    no_issues_when='compared._is_deleted_in_source and not compared._has_target_row',
    gone=[
        'orders.legacy_instruction_id as _legacy_instruction_id',
        'cases.legacy_patient_id as _legacy_patient_id',
        'true as _is_deleted_in_source',
        'false as _is_updated_after_earlier_scripts',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='targets.is_active is distinct from false or ' ~ not_applied(),
    requires=['checked.order_id', 'checked.case_id'],
    applies=drift_applies,
    junction=junction,
) }}
