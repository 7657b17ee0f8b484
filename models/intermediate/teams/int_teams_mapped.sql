{#- Groups mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. Considers the groups changed since the last applied run, those with open
    issues, and target teams whose legacy row was deleted before diffmig first synced it. teams
    has no soft-delete column (world.md 8.5): a deleted group is reported and its row kept. -#}
{{ config(materialized='table', unlogged=true) }}

with

staged as (
    select * from {{ ref('stg_legacy__groups') }}
),

keyed as (
    select * from {{ ref('int_teams_keyed') }}
),

targets as (
    select * from {{ ref('stg_supabase__teams') }}
),

known as (
    {{ applied_keys('teams') }}
),

retried as (
    {{ open_issue_keys('teams') }}
),

first_sync as (
    {{ first_synced_run('staged') }}
),

considered as (
    select staged.*
    from staged
    where
        {{ changed_since('staged') }}
        or staged.legacy_group_id::text in (select retried.legacy_key from retried)
),

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.group_name), ''), 'Team ' || considered.legacy_group_id
        ) as name,
        considered.legacy_group_id,
        considered.group_name as _legacy_name,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_group_id = keyed.legacy_key
    cross join first_sync
),

gone_before_first_sync as (
    select
        {{ gone_from_mirror_columns('teams', 'targets.team_id', helpers=[
            'targets.name as _legacy_name',
            'true as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ]) }}
    from targets
    left join staged on targets.legacy_group_id = staged.legacy_group_id
    where staged.legacy_group_id is null
),

all_mapped as (
    select * from mapped
    union all
    select * from gone_before_first_sync
),

compared as (
    select
        mapped.*,
        {{ written_by_earlier_scripts('targets.team_id') }} as _written_by_earlier_scripts,
        {{ drift_columns('teams') }} as _drift_columns
    from all_mapped as mapped
    left join targets on mapped.legacy_group_id = targets.legacy_group_id
    left join known on mapped.legacy_group_id::text = known.legacy_key
),

checked as (
    select
        compared.*,
        compared.legacy_group_id::text as _legacy_key,
        {{ issues_array([
            issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
                "'name set to ' || compared.name"),
            issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
                "'auth_group ' || compared.legacy_group_id || ' deleted; team kept'"),
            drift_issue(
                unless='compared._is_deleted_in_source or compared._is_changed_after_first_sync'
            ),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        not checked._is_deleted_in_source
        and {{ apply_decision(applies=['checked._is_changed_after_first_sync']) }} as _apply
    from checked
)

select * from decided
