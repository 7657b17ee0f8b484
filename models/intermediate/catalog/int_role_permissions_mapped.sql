{#- Role permissions mapped to the Supabase shape (world.md 8.4), with their issues and the decision
    to apply each row. permission and resource are the auth_permission's name and codename
    ('unknown_permission', 'unknown_resource' and a warning when the permission is gone). The
    role is read through the roles mart (built first) and is required: a role gone from the
    source holds the row back with a warning (role_missing); a role not migrated yet holds it
    back with an error, retried until the role lands. A row deleted in the source becomes
    is_active false. Considers the rows changed since the last applied run, those whose
    permission changed, those with open errors, and target rows whose legacy row was deleted
    before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('role_permissions', 'stg_legacy__role_permissions', 'legacy_role_permission_id',
    retry=['role_missing'],
    parents={'stg_legacy__permissions': 'legacy_permission_id'}) }}

permissions as (
    select * from {{ ref('stg_legacy__permissions') }}
),

source_roles as (
    select * from {{ ref('stg_legacy__roles') }}
),

roles as (
    select
        id as role_id,
        legacy_id
    from {{ ref('roles') }}
    where legacy_id is not null
),

first_permission_sync as (
    {{ first_synced_run('permissions') }}
),

mapped as (
    select
        keyed.target_id as id,
        roles.role_id,
        coalesce(permissions.permission_name, 'unknown_permission') as permission,
        coalesce(permissions.codename, 'unknown_resource') as resource,  -- noqa: RF04
        not considered.is_deleted_in_source as is_active,
        considered.legacy_role_permission_id as legacy_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'role_id', considered.legacy_role_id,
            'permission_id', considered.legacy_permission_id
        )) as metadata,
        considered.legacy_role_id as _legacy_role_id,
        considered.legacy_permission_id as _legacy_permission_id,
        source_roles.legacy_role_id is not null as _is_role_in_source,
        permissions.legacy_permission_id is not null as _is_permission_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        {{ changed_after_first_sync({
            'considered': 'first_sync', 'permissions': 'first_permission_sync'
        }) }} as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_role_permission_id = keyed.legacy_key
    cross join first_sync
    cross join first_permission_sync
    left join permissions
        on
            considered.legacy_permission_id = permissions.legacy_permission_id
            and not permissions.is_deleted_in_source
    left join source_roles
        on
            considered.legacy_role_id = source_roles.legacy_role_id
            and not source_roles.is_deleted_in_source
    left join roles on considered.legacy_role_id = roles.legacy_id
),

{# A deletion sets is_active false over a target row; without one there is nothing to report. #}
{{ entity_decision('role_permissions', 'legacy_id',
    issues=[
        issue_when("not compared._is_permission_in_source", "warning", "unknown_permission",
            "format('permission %s does not exist in the legacy database: unknown_permission, unknown_resource', coalesce(compared._legacy_permission_id::text, 'null'))"),
        issue_when("compared.role_id is null and not compared._is_role_in_source",
            "warning", "role_missing",
            "format('role %s does not exist in the legacy database and has no roles row: held back', compared._legacy_role_id)"),
        missing_parent_issue('role_permissions', 'role_id', "role_not_migrated",
            "compared.role_id is null and compared._is_role_in_source",
            "format('role %s has no roles row (held back or not yet migrated)', compared._legacy_role_id)"),
    ],
    gone=[
        'null::integer as _legacy_role_id',
        'null::integer as _legacy_permission_id',
        'false as _is_role_in_source',
        'false as _is_permission_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    staged_key='legacy_role_permission_id',
    compared_columns=['targets.role_permission_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source',
    requires=['checked.role_id'],
    applies=['checked._is_deleted_in_source'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
