{#- Roles mapped to the Supabase shape (world.md 8.4), with their issues and the decision to apply
    each row. description is the abbreviation, else 'Role: <name>'; the team is the role's group,
    read through the teams mart (built first): a group gone from the source leaves team_id null
    (warning), and so does a group whose team is not migrated (optional reference, warning
    team_not_migrated, retried until the team lands). A role deleted in the source becomes is_active
    false. The legacy columns go to metadata. Considers the roles changed since the last applied
    run, those whose group changed, those with open issues to retry, and target roles whose legacy
    role was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('roles', 'stg_legacy__roles', 'legacy_role_id',
    retry=['group_missing', 'team_not_migrated'],
    parents={'stg_legacy__groups': 'legacy_group_id'}) }}

groups as (
    select * from {{ ref('stg_legacy__groups') }}
),

teams as (
    select
        id as team_id,
        legacy_group_id
    from {{ ref('teams') }}
    where legacy_group_id is not null
),

named as (
    select
        considered.*,
        coalesce(
            nullif(btrim(considered.role_name), ''), 'Role ' || considered.legacy_role_id
        ) as name
    from considered
),

mapped as (
    select
        keyed.target_id as id,
        named.name,
        coalesce(nullif(btrim(named.abbrev), ''), 'Role: ' || named.name) as description,
        teams.team_id,
        not named.is_deleted_in_source as is_active,
        named.legacy_role_id as legacy_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'name', named.role_name,
            'abbrev', named.abbrev,
            'type', named.role_type_code,
            'order', named.role_order,
            'user_id', named.legacy_user_id,
            'group_id', named.legacy_group_id
        )) as metadata,
        named.role_name as _legacy_name,
        named.legacy_group_id as _legacy_group_id,
        groups.legacy_group_id is not null as _is_group_in_source,
        named.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        named.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from named
    inner join keyed on named.legacy_role_id = keyed.legacy_key
    cross join first_sync
    left join groups
        on named.legacy_group_id = groups.legacy_group_id and not groups.is_deleted_in_source
    left join teams on groups.legacy_group_id = teams.legacy_group_id
),

{# A role deleted in the source that never reached the target has nothing to report. #}
{{ entity_decision('roles', 'legacy_id',
    issues=[
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
        issue_when("compared._legacy_group_id is not null and not compared._is_group_in_source",
            "warning", "group_missing",
            "format('group %s does not exist in the legacy database: team_id left null', compared._legacy_group_id)"),
        missing_parent_issue('roles', 'team_id', "team_not_migrated",
            "compared._is_group_in_source and compared.team_id is null",
            "format('group %s has no teams row yet', compared._legacy_group_id)"),
    ],
    gone=[
        'targets.name as _legacy_name',
        'null::integer as _legacy_group_id',
        'false as _is_group_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    staged_key='legacy_role_id',
    compared_columns=['targets.role_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source',
    applies=['checked._is_deleted_in_source'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
