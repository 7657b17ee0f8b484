{#- dispatch_template_view_roles rows mapped to `template_view_roles` (world.md 8.4): the pair of
    the template and the role, both required (read through their marts, built first): a parent gone
    from the legacy database holds the row back with a warning, a parent not migrated yet with an
    error (retried until it lands). The shape is the shared junction pattern (junction_mapped). -#}
{{ config(materialized='table', unlogged=true) }}

{{ junction_mapped(
    entity='template_view_roles',
    staged=ref('stg_legacy__template_view_roles'),
    parents=[
        {
            'column': 'template_id', 'key': 'legacy_template_id',
            'mart': ref('templates'), 'mart_key': 'legacy_template_id',
            'source': ref('stg_legacy__templates'), 'source_key': 'legacy_template_id',
        },
        {
            'column': 'role_id', 'key': 'legacy_role_id',
            'mart': ref('roles'), 'mart_key': 'legacy_id',
            'source': ref('stg_legacy__roles'), 'source_key': 'legacy_role_id',
        },
    ],
    retry=['template_missing', 'role_missing'],
    issues=[
        issue_when("compared.template_id is null and not compared._is_template_id_in_source",
            "warning", "template_missing",
            "format('template %s does not exist in the legacy database: held back', compared._legacy_template_id)"),
        missing_parent_issue('template_view_roles', 'template_id', "template_not_migrated",
            "compared.template_id is null and compared._is_template_id_in_source",
            "format('template %s has no templates row (held back or not yet migrated)', compared._legacy_template_id)"),
        issue_when("compared.role_id is null and not compared._is_role_id_in_source",
            "warning", "role_missing",
            "format('role %s does not exist in the legacy database: held back', compared._legacy_role_id)"),
        missing_parent_issue('template_view_roles', 'role_id', "role_not_migrated",
            "compared.role_id is null and compared._is_role_id_in_source",
            "format('role %s has no roles row (held back or not yet migrated)', compared._legacy_role_id)"),
        issue_when("compared._is_on_other_pair", "error", "legacy_id_on_other_pair",
            "format('dispatch_template_view_roles %s now holds another pair; its target row keeps the old one', compared.legacy_id)"),
        drift_issue(applies=['checked._is_deleted_in_source']),
    ],
) }}
