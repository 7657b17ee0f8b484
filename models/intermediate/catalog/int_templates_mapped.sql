{#- Templates mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. name is task_name, else text_name, else 'Template <id>'; is_active comes from
    the status (seed template_status: 1 active; an unknown code takes the fallback with a warning)
    and is false once the template is deleted in the source (metadata.legacy_deleted_at tells a
    deletion from an inactive status). The category is read through the categories mart (built
    first): a category gone from the source leaves category_id null (warning). The other legacy
    columns go to metadata, extensions parsed (invalid -> {"raw_extensions": text}, with a warning).
    Considers the templates changed since the last applied run, those whose category changed, those
    with open issues to retry, and target templates whose legacy row was deleted before diffmig
    first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('templates', 'stg_legacy__templates', 'legacy_template_id',
    retry=['category_missing', 'category_not_migrated'],
    parents={'stg_legacy__categories': 'legacy_category_id'}) }}

source_categories as (
    select * from {{ ref('stg_legacy__categories') }}
),

statuses as (
    select * from {{ ref('template_status') }}
),

categories as (
    select
        id as category_id,
        legacy_category_id
    from {{ ref('categories') }}
    where legacy_category_id is not null
),

status_fallback as (
    select statuses.is_active
    from statuses
    where statuses.is_fallback
),

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.task_name), ''),
            nullif(btrim(considered.text_name), ''),
            'Template ' || considered.legacy_template_id
        ) as name,
        considered.action_name,
        categories.category_id,
        considered.duration as estimated_duration_minutes,
        coalesce(statuses.is_active, status_fallback.is_active)
        and not considered.is_deleted_in_source as is_active,
        considered.legacy_template_id,
        jsonb_build_object(
            'legacy', jsonb_build_object(
                'task_name', considered.task_name,
                'text_name', considered.text_name,
                'category_id', considered.legacy_category_id,
                'duration', considered.duration,
                'function', considered.function_code,
                'predefined', considered.is_predefined,
                'read_only', considered.is_read_only,
                'separate', considered.is_separate,
                'status', considered.status_code,
                'alerts', considered.alerts,
                'extensions', case
                    when considered.is_extensions_invalid
                        then jsonb_build_object('raw_extensions', considered.extensions_text)
                    else considered.extensions
                end
            ),
            'legacy_deleted_at', considered.source_deleted_at
        ) as metadata,
        considered.task_name as _legacy_task_name,
        considered.text_name as _legacy_text_name,
        considered.status_code as _legacy_status_code,
        statuses.status_code is null as _is_unknown_status,
        considered.is_extensions_invalid as _is_extensions_invalid,
        considered.legacy_category_id as _legacy_category_id,
        source_categories.legacy_category_id is not null as _is_category_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_template_id = keyed.legacy_key
    cross join first_sync
    cross join status_fallback
    left join statuses on considered.status_code = statuses.status_code
    left join source_categories
        on
            considered.legacy_category_id = source_categories.legacy_category_id
            and not source_categories.is_deleted_in_source
    left join categories on source_categories.legacy_category_id = categories.legacy_category_id
),

{# A deletion sets is_active false over a target row; without one there is nothing to report. #}
{{ entity_decision('templates', 'legacy_template_id',
    issues=[
        issue_when("nullif(btrim(compared._legacy_task_name), '') is null"
            ~ " and nullif(btrim(compared._legacy_text_name), '') is null",
            "warning", "blank_name", "'name set to ' || compared.name"),
        issue_when("compared._is_unknown_status", "warning", "unknown_template_status",
            "format('status %s is not in seed template_status: is_active %s', coalesce(compared._legacy_status_code::text, 'null'), compared.is_active::text)"),
        issue_when("compared._is_extensions_invalid", "warning", "invalid_json_extensions",
            "'extensions is not valid JSON: kept as metadata.legacy.extensions.raw_extensions'"),
        issue_when("compared._legacy_category_id is not null and not compared._is_category_in_source",
            "warning", "category_missing",
            "format('category %s does not exist in the legacy database: category_id left null', compared._legacy_category_id)"),
        missing_parent_issue('templates', 'category_id', "category_not_migrated",
            "compared._is_category_in_source and compared.category_id is null",
            "format('category %s has no categories row yet', compared._legacy_category_id)"),
    ],
    gone=[
        'targets.name as _legacy_task_name',
        'null::text as _legacy_text_name',
        'null::integer as _legacy_status_code',
        'false as _is_unknown_status',
        'false as _is_extensions_invalid',
        'null::integer as _legacy_category_id',
        'false as _is_category_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    compared_columns=['targets.template_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source',
    applies=['checked._is_deleted_in_source'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
