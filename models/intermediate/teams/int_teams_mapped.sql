{#- Groups mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. Considers the groups changed since the last applied run, those with open
    issues, and target teams whose legacy row was deleted before diffmig first synced it. teams
    has no soft-delete column (world.md 8.5): a deleted group is reported and its row kept. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('teams', 'stg_legacy__groups', 'legacy_group_id') }}

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

{{ entity_decision('teams', 'legacy_group_id',
    issues=[
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
        issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
            "'auth_group ' || compared.legacy_group_id || ' deleted; team kept'"),
    ],
    gone=[
        'targets.name as _legacy_name',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    drift_unless='compared._is_deleted_in_source or compared._is_changed_after_first_sync',
    applies=['checked._is_changed_after_first_sync'],
    conditions=['not checked._is_deleted_in_source'],
) }}
