{#- Brackets mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. bracket_type is 'standard', the legacy type goes to metadata, and the
    catalogue columns stay the app's. The project is read through the projects mart (built
    first); project_id is an optional reference: a project that is gone lands the bracket with
    project_id null and a warning, one not migrated too (retried until it lands). A bracket
    deleted in the legacy database becomes active = false (world.md 8.5). Considers the
    brackets synced since the last applied run, those with open errors or waiting for their
    project, and target brackets whose legacy row was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('brackets', 'stg_legacy__brackets', 'legacy_bracket_id',
    retry=['project_not_migrated']) }}

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

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.bracket_name), ''), 'Bracket ' || considered.legacy_bracket_id
        ) as name,
        'standard' as bracket_type,
        projects.project_id,
        not considered.is_deleted_in_source as active,
        considered.legacy_bracket_id,
        considered.legacy_project_id,
        jsonb_build_object(
            'legacy', jsonb_build_object('type', considered.bracket_type_text)
        ) as metadata,
        considered.bracket_name as _legacy_name,
        legacy_projects.legacy_project_id is not null
        and not legacy_projects.is_deleted_in_source as _is_project_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({'considered': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_bracket_id = keyed.legacy_key
    cross join first_sync
    left join legacy_projects
        on considered.legacy_project_id = legacy_projects.legacy_project_id
    left join projects on considered.legacy_project_id = projects.legacy_project_id
),

{{ entity_decision('brackets', 'legacy_bracket_id',
    issues=[
        issue_when("compared.legacy_project_id is not null and compared.project_id is null"
            ~ " and not compared._is_project_in_source and not compared._is_deleted_in_source",
            "warning", "project_missing",
            "format('project %s does not exist in the legacy database and has no target row: project_id left null', compared.legacy_project_id)"),
        missing_parent_issue('brackets', 'project_id', "project_not_migrated",
            "compared.legacy_project_id is not null and compared.project_id is null"
            ~ " and compared._is_project_in_source and not compared._is_deleted_in_source",
            "format('project %s is not in projects (held back or not yet migrated)', compared.legacy_project_id)"),
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
    ],
    gone=[
        'targets.name as _legacy_name',
        'false as _is_project_in_source',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    applies=['checked._is_deleted_in_source'],
) }}
