{#- Brackets mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. bracket_type is 'standard', the legacy type goes to metadata, and the
    catalogue columns stay the app's. The project is read through the projects mart (built
    first); project_id is an optional reference: a project that is gone lands the bracket with
    project_id null and a warning, one not migrated too (retried until it lands). A bracket
    deleted in the legacy database becomes active = false (world.md 8.5). Considers the
    brackets synced since the last applied run, those with open errors or waiting for their
    project, and target brackets whose legacy row was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = ['checked._is_deleted_in_source'] -%}

with

staged as (
    select * from {{ ref('stg_legacy__brackets') }}
),

legacy_projects as (
    select * from {{ ref('stg_legacy__projects') }}
),

keyed as (
    select * from {{ ref('int_brackets_keyed') }}
),

targets as (
    select * from {{ ref('stg_supabase__brackets') }}
),

projects as (
    select
        id as project_id,
        legacy_project_id
    from {{ ref('projects') }}
    where legacy_project_id is not null
),

known as (
    {{ applied_keys('brackets') }}
),

retried as (
    {{ open_issue_keys('brackets', retry=['project_not_migrated']) }}
),

first_sync as (
    {{ first_synced_run('staged') }}
),

considered as (
    select staged.*
    from staged
    where
        {{ changed_since('staged') }}
        or staged.legacy_bracket_id::text in (select retried.legacy_key from retried)
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

-- Target brackets whose legacy row is not in the mirror at all: deleted in the source before
-- diffmig first synced it. Kept with the target's values, active = false (soft_delete).
gone_before_first_sync as (
    select
        {{ gone_from_mirror_columns('brackets', 'targets.bracket_id', helpers=[
            'targets.name as _legacy_name',
            'false as _is_project_in_source',
            'true as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ]) }}
    from targets
    left join staged on targets.legacy_bracket_id = staged.legacy_bracket_id
    where staged.legacy_bracket_id is null
),

all_mapped as (
    select * from mapped
    union all
    select * from gone_before_first_sync
),

compared as (
    select
        mapped.*,
        {{ written_by_earlier_scripts('targets.bracket_id') }} as _written_by_earlier_scripts,
        {{ drift_columns('brackets') }} as _drift_columns
    from all_mapped as mapped
    left join targets on mapped.legacy_bracket_id = targets.legacy_bracket_id
    left join known on mapped.legacy_bracket_id::text = known.legacy_key
),

checked as (
    select
        compared.*,
        compared.legacy_bracket_id::text as _legacy_key,
        {{ issues_array([
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
            drift_issue(applies=drift_applies),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        {{ apply_decision(applies=drift_applies) }} as _apply
    from checked
)

select * from decided
