{#- Projects mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. The creator is read through the profiles mart (built first); creator_id is
    required: a project without creator takes the earlier migration's system profile (declared
    as var system_profile_email) with a warning, one whose creator user is gone or not migrated
    is held back. Type and status go through the seeds project_types and project_status, whose
    fallbacks (other, draft) come with a warning. A project deleted in the legacy database becomes
    status 'deleted' with metadata.legacy_deleted_at (world.md 8.5). Considers the projects synced
    since the last applied run, those with open errors, and target projects whose legacy row was
    deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('projects', 'stg_legacy__projects', 'legacy_project_id') }}

users as (
    select * from {{ ref('stg_legacy__users') }}
),

project_types as (
    select * from {{ ref('project_types') }}
),

project_status as (
    select * from {{ ref('project_status') }}
),

profiles as (
    select
        id as profile_id,
        legacy_user_id,
        email,
        created_at
    from {{ ref('profiles') }}
),

-- The earlier migration's system profile: the declared creator of projects without one.
system_profile as (
    select profiles.profile_id
    from profiles
    where lower(profiles.email) = lower('{{ var("system_profile_email") }}')
    order by profiles.created_at, profiles.profile_id
    limit 1
),

type_fallback as (
    select project_types.project_type
    from project_types
    where project_types.is_fallback
),

status_fallback as (
    select project_status.project_status
    from project_status
    where project_status.is_fallback
),

-- Storage keys that several live projects share (a planted defect: reported, the rows land).
shared_uids as (
    select
        staged.file_uid,
        count(*) as projects
    from staged
    where not staged.is_deleted_in_source and staged.file_uid is not null
    group by staged.file_uid
    having count(*) > 1
),

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.project_name), ''), 'Project ' || considered.legacy_project_id
        ) as name,
        coalesce(project_types.project_type, type_fallback.project_type) as project_type,
        case
            when considered.is_deleted_in_source then 'deleted'
            else coalesce(project_status.project_status, status_fallback.project_status)
        end as status,
        case
            when considered.is_deleted_in_source and targets.creator_id is not null
                then targets.creator_id
            when considered.legacy_creator_user_id is null then system_profile.profile_id
            else creators.profile_id
        end as creator_id,
        considered.file_uid,
        considered.size_bytes as file_size_bytes,
        considered.is_public,
        considered.legacy_project_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'type', considered.type_code,
            'status', considered.status_code,
            'creator_id', considered.legacy_creator_user_id,
            'created_at', considered.created_at
        ))
        || case
            when considered.is_deleted_in_source
                then jsonb_build_object('legacy_deleted_at', considered.source_deleted_at)
            else '{}'::jsonb
        end as metadata,
        considered.project_name as _legacy_name,
        considered.legacy_creator_user_id as _legacy_creator_user_id,
        users.legacy_user_id is not null
        and not users.is_deleted_in_source as _is_creator_in_source,
        considered.type_code as _type_code,
        project_types.project_type is null as _is_unknown_type,
        considered.status_code as _status_code,
        project_status.project_status is null as _is_unknown_status,
        shared_uids.projects as _projects_sharing_uid,
        considered.is_deleted_in_source as _is_deleted_in_source,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({'considered': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_project_id = keyed.legacy_key
    cross join first_sync
    cross join type_fallback
    cross join status_fallback
    left join system_profile on true
    left join targets on considered.legacy_project_id = targets.legacy_project_id
    left join users on considered.legacy_creator_user_id = users.legacy_user_id
    left join profiles as creators
        on considered.legacy_creator_user_id = creators.legacy_user_id
    left join project_types on considered.type_code = project_types.type_code
    left join project_status on considered.status_code = project_status.status_code
    left join shared_uids on considered.file_uid = shared_uids.file_uid
),

{# A project deleted in the source that never reached the target has nothing to report; one
   that did only changes its status (its creator is the target's). #}
{{ entity_decision('projects', 'legacy_project_id',
    issues=[
        issue_when("compared._legacy_creator_user_id is null and compared.creator_id is not null"
            ~ " and not compared._is_deleted_in_source",
            "warning", "no_creator",
            "'no creator: creator_id set to the system profile (" ~ var('system_profile_email') ~ ")'"),
        issue_when("compared._legacy_creator_user_id is null and compared.creator_id is null",
            "error", "system_profile_missing",
            "'no creator, and no profile with the email " ~ var('system_profile_email')
            ~ " to stand in for it: held back'"),
        issue_when("compared._legacy_creator_user_id is not null and compared.creator_id is null"
            ~ " and not compared._is_creator_in_source",
            "error", "creator_missing",
            "format('creator user %s does not exist in the legacy database and has no profile: held back', compared._legacy_creator_user_id)"),
        missing_parent_issue('projects', 'creator_id', "creator_not_migrated",
            "compared._legacy_creator_user_id is not null and compared.creator_id is null"
            ~ " and compared._is_creator_in_source",
            "format('creator user %s has no profile (held back or not yet migrated)', compared._legacy_creator_user_id)"),
        issue_when("compared._is_unknown_type and not compared._is_deleted_in_source",
            "warning", "unknown_project_type",
            "format('type %s is not in seed project_types: project_type set to %s', coalesce(compared._type_code::text, 'null'), compared.project_type)"),
        issue_when("compared._is_unknown_status and not compared._is_deleted_in_source",
            "warning", "unknown_project_status",
            "format('status %s is not in seed project_status: status set to %s', coalesce(compared._status_code::text, 'null'), compared.status)"),
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
        issue_when("compared._projects_sharing_uid > 1", "warning", "duplicate_file_uid",
            "format('uid %s is the uid of %s projects: file_uid kept as it is', compared.file_uid, compared._projects_sharing_uid)"),
    ],
    gone=[
        'targets.name as _legacy_name',
        'null::integer as _legacy_creator_user_id',
        'false as _is_creator_in_source',
        'null::integer as _type_code',
        'false as _is_unknown_type',
        'null::integer as _status_code',
        'false as _is_unknown_status',
        'null::bigint as _projects_sharing_uid',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    compared_columns=['targets.project_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source and not compared._has_target_row',
    applies=['checked._is_deleted_in_source'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
