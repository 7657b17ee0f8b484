{#- dispatch_template_view_groups rows mapped to `template_view_groups` (world.md 8.4): the pair
    of the template and the group, both required (read through their marts, built first): a
    parent gone from the legacy database holds the row back with a warning, a parent not
    migrated yet with an error (retried until it lands). A junction keyed by its legacy row's
    id, which the target row carries (junction row_keyed): a deleted row deactivates the target
    row that holds its legacy id, on that row's pair, unless its pair lives on in another legacy
    row. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set junction = {
    'parents': {
        'template_id': 'templates.legacy_template_id',
        'team_id': 'teams.legacy_group_id',
    },
    'row_keyed': true,
} %}

{% call entity_inputs('template_view_groups', 'stg_legacy__template_view_groups', 'legacy_id',
    retry=['template_missing', 'group_missing'], target_id='junction_id', junction=junction) %}
-- The parents written (their marts run first): considered resolves each row's pair with them.
templates as (
    select
        id as template_id,
        legacy_template_id
    from {{ ref('templates') }}
    where legacy_template_id is not null
),

teams as (
    select
        id as team_id,
        legacy_group_id
    from {{ ref('teams') }}
    where legacy_group_id is not null
),
{% endcall %}

legacy_templates as (
    select legacy_template_id from {{ ref('stg_legacy__templates') }}
    where not is_deleted_in_source
),

legacy_groups as (
    select legacy_group_id from {{ ref('stg_legacy__groups') }}
    where not is_deleted_in_source
),

mapped as (
    select
        coalesce(
            considered.existing_junction_id,
            {{ legacy_uuid('template_view_groups', 'considered.legacy_id') }}
        ) as id,
        considered.template_id,
        considered.team_id,
        not considered.is_deleted_in_source as is_active,
        considered.legacy_id,
        considered.legacy_template_id as _legacy_template_id,
        legacy_templates.legacy_template_id is not null as _is_template_id_in_source,
        considered.legacy_group_id as _legacy_team_id,
        legacy_groups.legacy_group_id is not null as _is_team_id_in_source,
        considered._is_on_other_pair,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join first_sync
    left join legacy_templates
        on considered.legacy_template_id = legacy_templates.legacy_template_id
    left join legacy_groups on considered.legacy_group_id = legacy_groups.legacy_group_id
),

{# A deletion deactivates a target row; without one, or when its pair lives on in another legacy
    row, there is nothing to do or report. -#}
{{ entity_decision('template_view_groups', 'legacy_id',
    issues=[
        issue_when("compared.template_id is null and not compared._is_template_id_in_source",
            "warning", "template_missing",
            "format('template %s does not exist in the legacy database: held back', compared._legacy_template_id)"),
        missing_parent_issue('template_view_groups', 'template_id', "template_not_migrated",
            "compared.template_id is null and compared._is_template_id_in_source",
            "format('template %s has no templates row (held back or not yet migrated)', compared._legacy_template_id)"),
        issue_when("compared.team_id is null and not compared._is_team_id_in_source",
            "warning", "group_missing",
            "format('group %s does not exist in the legacy database: held back', compared._legacy_team_id)"),
        missing_parent_issue('template_view_groups', 'team_id', "team_not_migrated",
            "compared.team_id is null and compared._is_team_id_in_source",
            "format('group %s has no teams row (held back or not yet migrated)', compared._legacy_team_id)"),
        issue_when("compared._is_on_other_pair", "error", "legacy_id_on_other_pair",
            "format('dispatch_template_view_groups %s now holds another pair; its target row keeps the old one', compared.legacy_id)"),
    ],
    gone=[
        'null::integer as _legacy_template_id',
        'false as _is_template_id_in_source',
        'null::integer as _legacy_team_id',
        'false as _is_team_id_in_source',
        'false as _is_on_other_pair',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    no_issues_when='compared._is_deleted_in_source',
    requires=['checked.template_id', 'checked.team_id'],
    applies=['checked._is_deleted_in_source'],
    target_id='junction_id',
    junction=junction,
) }}
