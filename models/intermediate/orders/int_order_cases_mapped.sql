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

with

instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),

targets as (
    select * from {{ ref('stg_supabase__order_cases') }}
),

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

known as (
    {{ applied_keys('order_cases') }}
),

retried as (
    {{ open_issue_keys('order_cases') }}
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

first_sync as (
    {{ first_synced_run('instructions') }}
),

pairs as (
    select
        instructions.*,
        instructions.legacy_instruction_id || ':' || instructions.legacy_patient_id as pair_key
    from instructions
    where instructions.legacy_patient_id is not null
),

-- Target links with the legacy pair they stand for (links of orders or cases without a legacy
-- key are the app's own and left alone).
target_pairs as (
    select
        targets.*,
        orders.legacy_instruction_id,
        cases.legacy_patient_id,
        orders.legacy_instruction_id || ':' || cases.legacy_patient_id as pair_key
    from targets
    inner join orders on targets.order_id = orders.order_id
    inner join cases on targets.case_id = cases.case_id
),

considered as (
    select pairs.*
    from pairs
    where
        {{ changed_since('pairs') }}
        or pairs.pair_key in (select retried.legacy_key from retried)
),

mapped_from_source as (
    select
        coalesce(
            current_links.order_case_id,
            {{ legacy_uuid('order_cases', 'considered.pair_key') }}
        ) as id,
        orders.order_id,
        cases.case_id,
        'primary' as relationship_type,
        not considered.is_deleted and not considered.is_deleted_in_source as is_active,
        jsonb_build_object('legacy', jsonb_build_object(
            'instruction_id', considered.legacy_instruction_id,
            'patient_id', considered.legacy_patient_id
        )) as metadata,
        considered.pair_key as _legacy_key,
        considered.legacy_instruction_id as _legacy_instruction_id,
        considered.legacy_patient_id as _legacy_patient_id,
        false as _is_target_only,
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
),

-- A target link with no legacy pair any more (the instruction was deleted before diffmig first
-- synced it, or now belongs to another patient): kept, made inactive (considered until that is
-- applied and recorded).
mapped_from_target as (
    select
        {{ gone_from_mirror_columns('order_cases', 'target_pairs.order_case_id',
            targets='target_pairs',
            helpers=[
                'target_pairs.pair_key as _legacy_key',
                'target_pairs.legacy_instruction_id as _legacy_instruction_id',
                'target_pairs.legacy_patient_id as _legacy_patient_id',
                'true as _is_target_only',
                'true as _is_deleted_in_source',
                'false as _is_updated_after_earlier_scripts',
                'false as _is_changed_after_first_sync',
            ]) }}
    from target_pairs
    left join pairs on target_pairs.pair_key = pairs.pair_key
    left join known on target_pairs.pair_key = known.legacy_key
    where
        pairs.pair_key is null
        and (target_pairs.is_active is distinct from false or known.legacy_key is null)
),

mapped as (
    select * from mapped_from_source
    union all
    select * from mapped_from_target
),

compared as (
    select
        mapped.*,
        targets.order_case_id is not null as _has_target_row,
        {{ written_by_earlier_scripts('targets.order_case_id') }} as _written_by_earlier_scripts,
        {{ drift_columns('order_cases') }} as _drift_columns
    from mapped
    left join targets
        on
            mapped.order_id = targets.order_id
            and mapped.case_id = targets.case_id
    left join known on mapped._legacy_key = known.legacy_key
),

checked as (
    select
        compared.*,
        -- a pair deleted in the source that never reached the target has nothing to deactivate
        case
            when compared._is_deleted_in_source and not compared._has_target_row then '[]'::jsonb
            else {{ issues_array([
                issue_when("compared.order_id is null", "error", "order_not_migrated",
                    "format('instruction %s has no order (held back or not yet migrated)', compared._legacy_instruction_id)"),
                issue_when("compared.case_id is null", "error", "case_not_migrated",
                    "format('patient %s has no case (held back or not yet migrated)', compared._legacy_patient_id)"),
                drift_issue(applies=drift_applies),
            ]) }}
        end as _issues
    from compared
),

decided as (
    select
        checked.*,
        {{ apply_decision(
            requires=['checked.order_id', 'checked.case_id'],
            deleted='checked._is_deleted_in_source',
            has_target='checked._has_target_row',
            applies=drift_applies,
        ) }} as _apply
    from checked
)

select * from decided
